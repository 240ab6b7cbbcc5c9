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

  constructor(code: ErrorCode, message: string, status: number, requestId: string | null) {
    super(code, message);
    this.name = 'KeywardApiError';
    this.status = status;
    this.requestId = requestId;
  }
}
