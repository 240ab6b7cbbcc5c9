import type { RetryOptions } from './retry-policy.js';

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
  /** Milliseconds before one attempt of a request is abandoned (never retried); 30 000 by default. */
  timeoutMs?: number | undefined;
  /**
   * Retrying of idempotent calls after 429 or 503 (docs/transit.md,
   * "Retries"): a number is the most retries (0 disables), an object tunes
   * the backoff. Two retries with jittered exponential backoff by default.
   */
  retries?: RetryOptions | number | undefined;
  /** A `fetch` implementation; the global one by default (with `tls`, undici's, over an agent holding the certificate). */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * TLS settings for an `https` address (Node.js): `ca` to trust a private
   * CA, and `cert` with `key` (PEM contents, not paths) to authenticate with a
   * client certificate (mutual TLS) instead of, or beside, a token.
   */
  tls?: KeywardTlsOptions | undefined;
}

/** PEM contents of the TLS material of a {@link KeywardClient}. */
export interface KeywardTlsOptions {
  /** The client certificate (mutual TLS); with `key`. */
  cert?: string | Uint8Array | undefined;
  /** The client certificate's private key (mutual TLS); with `cert`. Kept in memory only. */
  key?: string | Uint8Array | undefined;
  /** The CA certificate(s) that issued the server's certificate, instead of the system's. */
  ca?: string | Uint8Array | undefined;
}
