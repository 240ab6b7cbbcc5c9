import { getAlgorithm } from '@keyward/crypto';
import type { KeyRecord, VersionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/**
 * Enforces per-version use limits (`maxUsesPerVersion`, or the algorithm's
 * safe limit: 2^32 random-nonce AES-GCM encryptions, NIST SP 800-38D §8.3)
 * without a database round trip per operation: each node reserves uses in
 * blocks with an atomic compare-and-set on the version's `reserved` count,
 * then spends them from memory. A version therefore never exceeds its limit,
 * across any number of nodes; uses reserved by a node that stops are lost,
 * so a version may rotate slightly before its limit, never after.
 */
export class UseLimiter {
  readonly #store: Store;
  readonly #blockSize: number;
  readonly #left = new Map<string, number>();
  readonly #pending = new Map<string, Promise<void>>();

  constructor(store: Store, blockSize = 1000) {
    this.#store = store;
    this.#blockSize = blockSize;
  }

  /** The limit that applies to a key's versions, or null for none. */
  static limitOf(key: KeyRecord): number | null {
    return key.maxUsesPerVersion ?? getAlgorithm(key.algorithm).safeUseLimit;
  }

  /** Takes one use; false when the version has reached its limit (the caller rotates). */
  async take(key: KeyRecord, version: VersionRecord): Promise<boolean> {
    const limit = UseLimiter.limitOf(key);
    if (limit === null) return true;
    const id = `${key.id}\0${version.version}`;
    for (;;) {
      const left = this.#left.get(id) ?? 0;
      if (left > 0) {
        this.#left.set(id, left - 1);
        return true;
      }
      // Small limits get small blocks, so several nodes share a version fairly.
      const block = Math.max(1, Math.min(this.#blockSize, Math.floor(limit / 100)));
      let pending = this.#pending.get(id);
      if (pending === undefined) {
        pending = this.#store.reserveUses(key.id, version.version, block, limit).then((granted) => {
          this.#left.set(id, (this.#left.get(id) ?? 0) + granted);
          if (granted === 0) this.#left.set(id, -1);
        });
        this.#pending.set(id, pending);
        void pending.finally(() => this.#pending.delete(id)).catch(() => {});
      }
      await pending;
      if ((this.#left.get(id) ?? 0) < 0) return false;
    }
  }

  /** Forgets a key's reservations in memory (after a rotation or a change elsewhere). */
  forgetKey(keyId: string): void {
    for (const id of this.#left.keys()) if (id.startsWith(`${keyId}\0`)) this.#left.delete(id);
  }
}
