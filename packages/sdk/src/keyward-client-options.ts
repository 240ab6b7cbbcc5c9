/** How a {@link KeywardClient} reaches and authenticates to Keyward. */
export interface KeywardClientOptions {
  /** Base address of the server, e.g. `https://kms.internal:8200` (no path, no credentials). */
  address: string;
  /** Bearer token (`kw_…`); omit for unauthenticated calls such as `health`. */
  token?: string | undefined;
  /**
   * The current code of the caller's TOTP authenticator, sent as
   * `X-Keyward-OTP`: admin-level calls of a user who enrolled one need it.
   * A code is good once (one admin-level call), so a client making several
   * such calls needs a fresh code for each: build a new client per code.
   */
  otp?: string | undefined;
  /** Namespace sent as `X-Keyward-Namespace`; the server uses `default` without it. */
  namespace?: string | undefined;
  /** Milliseconds before a request is abandoned; 30 000 by default. */
  timeoutMs?: number | undefined;
  /** A `fetch` implementation; the global one by default. */
  fetch?: typeof globalThis.fetch | undefined;
}
