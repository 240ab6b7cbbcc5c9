import { KeywardError } from '@keyward/wire';

/** Bounds of the data-key cache; every one of them must be set. */
export interface DataKeyCacheOptions {
  /** A data key is not used for a new message once it is this old (milliseconds since it was fetched). */
  maxAgeMs: number;
  /** A data key encrypts at most this many messages. */
  maxMessages: number;
  /** A data key is not used for a new message once the messages it began have encrypted this many plaintext bytes. */
  maxBytes: number;
  /** At most this many data keys (one per key name and context) are held; the oldest is evicted first. */
  maxEntries: number;
}

/** A data key as fetched from `POST /v1/keys/{name}/data-key`. */
export interface CachedDataKey {
  plaintext: Buffer;
  wrappedKey: string;
  keyVersion: number;
}

/** One message's hold on a data key: count the plaintext it encrypts. */
export interface DataKeyLease {
  readonly dataKey: CachedDataKey;
  /** Adds `bytes` to the key's byte count (a no-op for an uncached key). */
  addBytes(bytes: number): void;
}

interface Entry {
  key: CachedDataKey;
  fetchedAt: number;
  messages: number;
  bytes: number;
}

/**
 * Bounded cache of plaintext data keys for envelope encryption, keyed by key
 * name and canonical context: one data key serves several messages (each
 * with its own derived message keys, docs/formats.md §11.3) until it reaches
 * its maximum age, message count or byte count. An evicted key is zeroed.
 * Time comes from the injected clock.
 *
 * @example
 * const cache = new DataKeyCache({ maxAgeMs: 300_000, maxMessages: 1000, maxBytes: 2 ** 32, maxEntries: 100 }, Date.now);
 */
export class DataKeyCache {
  readonly #options: Readonly<DataKeyCacheOptions>;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: DataKeyCacheOptions, now: () => number = Date.now) {
    for (const field of ['maxAgeMs', 'maxMessages', 'maxBytes', 'maxEntries'] as const) {
      const value = options[field];
      if (!Number.isSafeInteger(value) || value < 1)
        throw new KeywardError('invalid_request', `cache.${field}: must be a positive integer`);
    }
    this.#options = Object.freeze({ ...options });
    this.#now = now;
  }

  /** Number of data keys held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A lease on the cached data key for `id` when one is within its bounds
   * (counting this message), else on a fresh one from `fetch`, which then
   * replaces it in the cache.
   */
  async lease(id: string, fetch: () => Promise<CachedDataKey>): Promise<DataKeyLease> {
    const now = this.#now();
    const cached = this.#entries.get(id);
    if (cached !== undefined) {
      if (this.#usable(cached, now)) {
        cached.messages++;
        return leaseOf(cached);
      }
      this.#evict(id);
    }
    const key = await fetch();
    const entry: Entry = { key, fetchedAt: this.#now(), messages: 1, bytes: 0 };
    // Another message may have filled the slot while this one fetched: the older key goes.
    if (this.#entries.has(id)) this.#evict(id);
    while (this.#entries.size >= this.#options.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#evict(oldest);
    }
    this.#entries.set(id, entry);
    return leaseOf(entry);
  }

  /** Zeroes and drops every data key (call when done with the cache). */
  clear(): void {
    for (const id of [...this.#entries.keys()]) this.#evict(id);
  }

  #usable(entry: Entry, now: number): boolean {
    const o = this.#options;
    return now - entry.fetchedAt < o.maxAgeMs && entry.messages < o.maxMessages && entry.bytes < o.maxBytes;
  }

  #evict(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    // Messages in flight derived their own keys at start and no longer read this one.
    entry.key.plaintext.fill(0);
  }
}

function leaseOf(entry: Entry): DataKeyLease {
  return {
    dataKey: entry.key,
    addBytes(bytes) {
      entry.bytes += bytes;
    },
  };
}
