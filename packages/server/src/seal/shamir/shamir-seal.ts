import { randomBytes } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { combine, split } from 'shamir-secret-sharing';
import { makeKeyCheck, verifyKeyCheck } from '../key-check.js';
import { ROOT_KEY_BYTES, RootKey } from '../root-key.js';
import type { Seal, SealStateStore, SealStatus } from '../seal.js';
import { sealedError } from '../sealed-error.js';
import { zero } from '../zero.js';
import { type ShamirInitParams, validateInitParams } from './init-params.js';
import { parseShamirState, type ShamirState, serializeShamirState } from './shamir-state.js';
import { decodeShare, encodeShare } from './share-encoding.js';
import { UnsealProgress } from './unseal-progress.js';

/** Configuration of a {@link ShamirSeal}; frozen at construction. */
export interface ShamirSealConfig {
  /** Where the non-secret state (threshold, share count, key check, id) lives. */
  readonly state: SealStateStore;
}

/**
 * A seal whose root key exists only as Shamir shares (threshold t of n) held
 * by separate custodians, and in memory between unseal and seal. The state
 * store holds no share and no key: only what is needed to count shares and
 * recognize the reconstructed key. See `docs/seals.md` for the ceremony.
 *
 * @example
 * const seal = new ShamirSeal({ state: store });
 * await seal.open();
 * const shares = await seal.init({ shares: 5, threshold: 3 }); // hand one to each custodian
 * // … after a restart:
 * await seal.open();
 * await seal.submitShare(shareFromCustodian); // repeat until status().sealed is false
 */
export class ShamirSeal implements Seal {
  readonly kind = 'shamir' as const;
  readonly #store: SealStateStore;
  readonly #progress = new UnsealProgress();
  #opened = false;
  #state: ShamirState | null = null;
  #root: RootKey | null = null;
  /** Bumped by seal(); a reconstruction that began in an older epoch is discarded. */
  #epoch = 0;
  /** Settles when the running reconstruction ends; never rejects. */
  #combining: Promise<void> | null = null;
  #initializing = false;

  constructor(config: ShamirSealConfig) {
    this.#store = Object.freeze({ ...config }).state;
  }

  /**
   * Loads the persisted state. Resolves with the seal sealed (or still
   * unsealed, if it was and the state is the same initialization). Throws
   * `KeywardError('internal')` when the state is corrupt, leaving the seal
   * sealed.
   */
  async open(): Promise<void> {
    let state: ShamirState | null;
    try {
      const text = await this.#store.read();
      state = text === null ? null : parseShamirState(text);
    } catch (error) {
      this.seal();
      this.#state = null;
      throw error;
    }
    if (state?.id !== this.#state?.id) this.seal();
    this.#state = state;
    this.#opened = true;
  }

  /**
   * Creates a root key, persists the non-secret state and returns the
   * `shares` encoded shares (`kws1.…`, one per custodian; they are never
   * stored). Leaves the seal unsealed. Throws `KeywardError('invalid_request')`
   * naming `shares` or `threshold` for bad parameters, and
   * `KeywardError('conflict')` when already initialized — also when another
   * node sharing the state store initialized it meanwhile: this seal then
   * holds that node's state, sealed, so that node's shares unseal it.
   */
  async init(params: ShamirInitParams): Promise<string[]> {
    const { shares, threshold } = validateInitParams(params);
    if (this.#initializing || this.#state !== null) throw alreadyInitialized();
    this.#initializing = true;
    try {
      if ((await this.#store.read()) !== null) await this.#tookByAnother();
      const epoch = this.#epoch;
      const rootBytes = randomBytes(ROOT_KEY_BYTES);
      const root = new RootKey(rootBytes);
      let parts: Uint8Array[] = [];
      try {
        parts = await split(rootBytes, shares, threshold);
        const encoded = parts.map(encodeShare);
        const id = Buffer.from(randomBytes(16)).toString('base64url');
        const state: ShamirState = Object.freeze({ id, threshold, shares, check: makeKeyCheck(root) });
        if (!(await this.#store.create(serializeShamirState(state)))) await this.#tookByAnother();
        this.#state = state;
        this.#opened = true;
        // seal() during init wins: the seal ends initialized but sealed.
        if (epoch === this.#epoch) this.#root = root;
        else root.destroy();
        return encoded;
      } catch (error) {
        root.destroy();
        throw error;
      } finally {
        for (const part of parts) zero(part);
      }
    } finally {
      this.#initializing = false;
    }
  }

  /**
   * The store holds a state this seal did not make: another node sharing it
   * initialized first. Takes that state (sealed), so that node's shares
   * unseal this one, and throws `conflict`.
   */
  async #tookByAnother(): Promise<never> {
    await this.open();
    throw alreadyInitialized();
  }

  /**
   * Accepts one custodian share and returns the status. A share submitted
   * again counts once. A different share at the x coordinate of one already
   * accepted cannot belong with it (another initialization's, or corrupt):
   * all progress is discarded and `invalid_request` (`share: …`) is thrown
   * at once, rather than at the threshold. When the threshold is
   * reached the key is reconstructed and checked: on success the seal is
   * unsealed; on mismatch all progress is discarded and
   * `KeywardError('invalid_request')` is thrown. When already unsealed the
   * share is ignored and the status returned. Throws `invalid_request`
   * (`share: …`) for a malformed share, `invalid_state` when not initialized.
   */
  async submitShare(share: string): Promise<SealStatus> {
    while (this.#combining !== null) await this.#combining;
    if (!this.#opened) throw new KeywardError('internal', 'the Shamir seal was not opened');
    const state = this.#state;
    if (state === null) throw new KeywardError('invalid_state', 'the Shamir seal is not initialized');
    if (this.#root !== null) return this.status();
    const outcome = this.#progress.add(decodeShare(share));
    if (outcome === 'conflict') {
      this.#progress.clear();
      throw conflictingShare();
    }
    if (outcome === 'duplicate' || this.#progress.count < state.threshold) return this.status();
    const attempt = this.#reconstruct(this.#progress.take(), state, this.#epoch);
    this.#combining = attempt.then(
      () => undefined,
      () => undefined,
    );
    try {
      await attempt;
    } finally {
      this.#combining = null;
    }
    return this.status();
  }

  status(): SealStatus {
    const sealed = this.#root === null;
    return Object.freeze({
      kind: this.kind,
      initialized: this.#state !== null,
      sealed,
      progress: sealed ? this.#progress.count : 0,
      threshold: this.#state?.threshold ?? 0,
    });
  }

  async wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (this.#root === null) throw sealedError(this.kind);
    return this.#root.wrap(plaintext, aad);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    if (this.#root === null) throw sealedError(this.kind);
    return this.#root.unwrap(wrapped, aad);
  }

  seal(): void {
    this.#epoch += 1;
    this.#root?.destroy();
    this.#root = null;
    this.#progress.clear();
  }

  /** Combines `shares` (zeroing them), checks the result against the key check, and unseals. */
  async #reconstruct(shares: Uint8Array[], state: ShamirState, epoch: number): Promise<void> {
    let candidate: Uint8Array | null = null;
    try {
      candidate = await combine(shares);
    } catch {
      candidate = null;
    } finally {
      for (const share of shares) zero(share);
    }
    if (candidate === null || candidate.length !== ROOT_KEY_BYTES) {
      if (candidate !== null) zero(candidate);
      throw wrongShares();
    }
    const root = new RootKey(candidate);
    if (!verifyKeyCheck(root, state.check)) {
      root.destroy();
      throw wrongShares();
    }
    // Sealed or reopened on another initialization meanwhile: stay sealed.
    if (epoch !== this.#epoch || this.#state?.id !== state.id) root.destroy();
    else this.#root = root;
  }
}

function alreadyInitialized(): KeywardError {
  return new KeywardError('conflict', 'the Shamir seal is already initialized');
}

function conflictingShare(): KeywardError {
  return new KeywardError(
    'invalid_request',
    "share: differs from an accepted share with the same x coordinate (another initialization's share, or a corrupt one); unseal progress was reset",
  );
}

function wrongShares(): KeywardError {
  return new KeywardError('invalid_request', 'share: the submitted shares do not reconstruct the root key; unseal progress was reset');
}
