import { zero } from '../zero.js';
import { shareX } from './share-encoding.js';

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
   * Takes ownership of `share`. Returns false, and zeroes `share`, when a
   * share with the same x coordinate is already held (the first one stays).
   */
  add(share: Uint8Array): boolean {
    const x = shareX(share);
    if (this.#shares.has(x)) {
      zero(share);
      return false;
    }
    this.#shares.set(x, share);
    return true;
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
