import { timingSafeEqual } from 'node:crypto';
import { zero } from '../zero.js';
import { shareX } from './share-encoding.js';

/**
 * What became of a submitted share: counted; the same share as one already
 * held (submitted twice: counted once); or another share at the x
 * coordinate of one already held — two points of one polynomial never
 * share an x, so the two come from different initializations, or one of
 * them is corrupt.
 */
export type ShareOutcome = 'added' | 'duplicate' | 'conflict';

/**
 * Shares accepted so far in an unseal, keyed by x coordinate so a share
 * submitted twice counts once. Owns the share bytes it holds and zeroes
 * them when cleared.
 */
export class UnsealProgress {
  readonly #shares = new Map<number, Uint8Array>();

  /** Distinct shares held. */
  get count(): number {
    return this.#shares.size;
  }

  /**
   * Takes ownership of `share`. Unless the outcome is `added`, zeroes
   * `share` and keeps what was held: the caller decides what a `conflict`
   * does to the progress.
   */
  add(share: Uint8Array): ShareOutcome {
    const x = shareX(share);
    const held = this.#shares.get(x);
    if (held === undefined) {
      this.#shares.set(x, share);
      return 'added';
    }
    // Shares are secret: compared in constant time (equal x means equal length).
    const same = held.length === share.length && timingSafeEqual(held, share);
    zero(share);
    return same ? 'duplicate' : 'conflict';
  }

  /** Hands every held share to the caller (who must zero them) and starts over. */
  take(): Uint8Array[] {
    const shares = [...this.#shares.values()];
    this.#shares.clear();
    return shares;
  }

  /** Zeroes and forgets every held share. */
  clear(): void {
    for (const share of this.#shares.values()) zero(share);
    this.#shares.clear();
  }
}
