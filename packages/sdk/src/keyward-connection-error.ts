/**
 * The request never got an answer: the address refused the connection, the
 * name did not resolve, TLS failed, the connection broke, or the timeout
 * passed. Distinct from {@link KeywardApiError}, which is an answer.
 *
 * The message names the server's origin and the cause, never the token or a
 * request body.
 *
 * @example
 * try {
 *   await client.health();
 * } catch (error) {
 *   if (error instanceof KeywardConnectionError) console.error(error.message);
 * }
 */
export class KeywardConnectionError extends Error {
  /** Code-like marker so callers can switch on `code` as for the API errors. */
  readonly code = 'unreachable' as const;
  /** True when the client's timeout ended the request. */
  readonly timedOut: boolean;

  constructor(message: string, options: { timedOut: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeywardConnectionError';
    this.timedOut = options.timedOut;
  }
}
