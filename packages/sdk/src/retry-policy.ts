import { KeywardError } from '@keyward/wire';

/**
 * When and how a {@link KeywardClient} retries (docs/transit.md, "Retries").
 * Only idempotent calls are ever retried, and only after an answer of 429
 * (`rate_limited`) or 503 (`sealed`, overloaded), or when the connection
 * was refused (nothing was sent).
 */
export interface RetryOptions {
  /** Retries after the first attempt; 2 by default, 0 disables retrying. */
  maxRetries?: number | undefined;
  /** The backoff's base: retry n waits a random time in [0, min(maxDelayMs, baseDelayMs · 2^n)); 100 ms by default. */
  baseDelayMs?: number | undefined;
  /** The backoff's ceiling; 5 000 ms by default. */
  maxDelayMs?: number | undefined;
  /** The longest `Retry-After` honoured; a server asking for a longer wait gets no retry (the error carries `retryAfterMs`). 30 000 ms by default. */
  maxRetryAfterMs?: number | undefined;
  /** How to wait; `setTimeout` by default (tests inject one that records the delays). */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** A uniform random number in [0, 1) for the jitter; `Math.random` by default. */
  random?: (() => number) | undefined;
}

/** The settled form of {@link RetryOptions}, frozen at construction. */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
}

/** Statuses worth retrying: the server refused before acting and asked the client to come back. */
export const RETRY_STATUSES: readonly number[] = [429, 503];

const DEFAULTS = { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 5_000, maxRetryAfterMs: 30_000 } as const;

/**
 * Checks and freezes the retry options: `0` (or `{ maxRetries: 0 }`) disables
 * retrying; counts and delays are non-negative integers.
 */
export function retryPolicy(options: RetryOptions | number | undefined): RetryPolicy {
  const given: RetryOptions = typeof options === 'number' ? { maxRetries: options } : (options ?? {});
  const policy = {
    maxRetries: given.maxRetries ?? DEFAULTS.maxRetries,
    baseDelayMs: given.baseDelayMs ?? DEFAULTS.baseDelayMs,
    maxDelayMs: given.maxDelayMs ?? DEFAULTS.maxDelayMs,
    maxRetryAfterMs: given.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    sleep: given.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    random: given.random ?? Math.random,
  };
  if (!Number.isInteger(policy.maxRetries) || policy.maxRetries < 0 || policy.maxRetries > 10) {
    throw new KeywardError('invalid_request', 'retries.maxRetries must be an integer from 0 to 10');
  }
  for (const field of ['baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    if (!Number.isInteger(policy[field]) || policy[field] < 0) {
      throw new KeywardError('invalid_request', `retries.${field} must be a non-negative integer`);
    }
  }
  if (policy.maxDelayMs < policy.baseDelayMs)
    throw new KeywardError('invalid_request', 'retries.maxDelayMs must not be below retries.baseDelayMs');
  return Object.freeze(policy);
}

/**
 * The wait before retry number `retry` (0 for the first retry): the server's
 * `Retry-After` when it gave one, else exponential backoff with full jitter
 * (a uniform wait below min(max, base · 2^retry), so that clients refused
 * together do not come back together).
 */
export function retryDelay(policy: RetryPolicy, retry: number, retryAfterMs: number | null): number {
  if (retryAfterMs !== null) return retryAfterMs;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(policy.random() * ceiling);
}

/**
 * `Retry-After` (RFC 9110, 10.2.3) in milliseconds from `now`: delay-seconds
 * or an HTTP-date; null when absent or unreadable (a date in the past is 0).
 */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^[0-9]+$/.test(value)) return Number(value) * 1000;
  // IMF-fixdate and the two obsolete forms all start with a day name (Date.parse alone takes "-3" for a year).
  if (!/^[A-Za-z]{3,9},? /.test(value)) return null;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}
