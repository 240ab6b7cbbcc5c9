/** How a {@link KeywardClient} reaches and authenticates to Keyward. */
export interface KeywardClientOptions {
  /** Base address of the server, e.g. `https://kms.internal:8200` (no path, no credentials). */
  address: string;
  /** Bearer token (`kw_…`); omit for unauthenticated calls such as `health`. */
  token?: string | undefined;
  /** Namespace sent as `X-Keyward-Namespace`; the server uses `default` without it. */
  namespace?: string | undefined;
  /** Milliseconds before a request is abandoned; 30 000 by default. */
  timeoutMs?: number | undefined;
  /** A `fetch` implementation; the global one by default. */
  fetch?: typeof globalThis.fetch | undefined;
}
