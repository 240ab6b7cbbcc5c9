import { type ErrorCode, HTTP_STATUS, KeywardError } from '@keyward/wire';
import { formatValidationError, type ValidationIssue } from './validation.js';

export interface WireError {
  status: number;
  code: ErrorCode;
  message: string;
}

/** Fastify's own errors for malformed requests, each with the precise answer it gets. */
const FASTIFY_ERRORS: Readonly<Record<string, { code: ErrorCode; message: string }>> = Object.freeze({
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'body: larger than this endpoint accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'invalid_request', message: 'content-type: must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'content-length: does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'body: empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request', message: 'body: malformed JSON' },
  FST_ERR_BAD_URL: { code: 'invalid_request', message: 'path: not a valid URL (bad percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'invalid_request', message: 'path: a path parameter is too long' },
});

/**
 * The one table from errors to the wire (API.md, "Errors"). Anything that is
 * not a known client error is a 500 with a fixed message: internals never leak.
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof KeywardError) return { status: HTTP_STATUS[error.code], code: error.code, message: error.message };
  if (typeof error === 'object' && error !== null) {
    const { validation, validationContext, code, statusCode } = error as {
      validation?: ValidationIssue[];
      validationContext?: string;
      code?: string;
      statusCode?: number;
    };
    if (Array.isArray(validation) && validation[0] !== undefined) {
      return { status: 400, code: 'invalid_request', message: formatValidationError(validation[0], validationContext ?? 'body') };
    }
    const known = code === undefined ? undefined : FASTIFY_ERRORS[code];
    if (known) return { status: HTTP_STATUS[known.code], ...known };
    if (error instanceof SyntaxError) return { status: 400, code: 'invalid_request', message: 'body: malformed JSON' };
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return { status: 400, code: 'invalid_request', message: 'request: malformed' };
    }
  }
  return { status: 500, code: 'internal', message: 'internal error; the request id identifies it in the server log' };
}
