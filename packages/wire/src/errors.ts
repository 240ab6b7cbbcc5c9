/**
 * Error codes of the HTTP contract (shared/API.md, "Errors"). Every front end
 * maps these to its wire form in one table; callers switch on `code`, never on
 * message text.
 */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_ciphertext',
  'policy_violation',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'invalid_state',
  'payload_too_large',
  'rate_limited',
  'sealed',
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** HTTP status for each error code (API.md). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_request: 400,
  invalid_ciphertext: 400,
  policy_violation: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  payload_too_large: 413,
  rate_limited: 429,
  sealed: 503,
  unavailable: 503,
  internal: 500,
});

/** The one message for every ciphertext failure, so the answer is no oracle. */
export const INVALID_CIPHERTEXT_MESSAGE = 'ciphertext is invalid, was made by another key, or the context does not match';

/** Body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

/**
 * The one error type of Keyward. `message` is safe to show to the caller: it
 * never carries secrets or the reason a decryption failed.
 *
 * @example
 * throw new KeywardError('not_found', "key 'payments' does not exist");
 */
export class KeywardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'KeywardError';
    this.code = code;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
