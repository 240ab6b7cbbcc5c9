import { type ErrorCode, KeywardError } from '@keyward/wire';

/**
 * The server refused a request: an error answer of the HTTP contract
 * (shared/API.md, "Errors"). Switch on `code`; `status` is the HTTP status
 * and `requestId` the id to quote when asking an operator about it.
 *
 * @example
 * try {
 *   await client.getKey('payments');
 * } catch (error) {
 *   if (error instanceof KeywardApiError && error.code === 'not_found') {
 *     // create it
 *   }
 * }
 */
export class KeywardApiError extends KeywardError {
  /** HTTP status of the answer. */
  readonly status: number;
  /** `X-Request-Id` of the answer, or `null` when the server sent none. */
  readonly requestId: string | null;
  /**
   * The wait the server asked for with `Retry-After` (seconds or an HTTP
   * date, in milliseconds from when the answer came), or `null` when it
   * named none. Set on 429 and 503 answers that carry the header.
   */
  readonly retryAfterMs: number | null;

  constructor(code: ErrorCode, message: string, status: number, requestId: string | null, retryAfterMs: number | null = null) {
    super(code, message);
    this.name = 'KeywardApiError';
    this.status = status;
    this.requestId = requestId;
    this.retryAfterMs = retryAfterMs;
  }
}
