import type { Clock } from './clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_TRACKED = 100_000;

/**
 * A token bucket per key (a source address, a principal): `burst` tokens,
 * refilled at `perSecond`. Time comes from the injected clock.
 */
export class RateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: { burst: number; perSecond: number }, clock: Clock) {
    this.#burst = config.burst;
    this.#perMs = config.perSecond / 1000;
    this.#clock = clock;
  }

  #bucket(key: string): Bucket {
    const now = this.#clock.now().getTime();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_TRACKED) this.#buckets.delete(this.#buckets.keys().next().value as string);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    return bucket;
  }

  /** Whether `key` has a token left, without taking one. */
  allows(key: string): boolean {
    return this.#bucket(key).tokens >= 1;
  }

  /** Takes a token; false when the bucket is empty. */
  take(key: string): boolean {
    const bucket = this.#bucket(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
