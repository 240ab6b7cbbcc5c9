/**
 * The seal: the one holder of the root key (DESIGN.md, "Key hierarchy").
 * Everything below the root key (namespace KEKs, then key-version material)
 * is wrapped through a {@link Seal}; nothing else ever sees the root key.
 *
 * Adapters live in sibling folders (`file/`, `shamir/`, `pkcs11/`) and
 * all pass the shared conformance suite in `test/seal/seal-conformance.ts`.
 * Only `main.ts` picks one. See `docs/seals.md`.
 */

/** Which root-key provider a seal is. */
export type SealKind = 'file' | 'shamir' | 'pkcs11';

/**
 * A snapshot of a seal's state; safe to show to any caller (no secrets).
 *
 * - not initialized: `initialized` false, `sealed` true, `progress` 0, `threshold` 0.
 * - sealed: `initialized` true, `sealed` true, `progress` = distinct shares
 *   accepted so far (Shamir; otherwise 0), `threshold` = shares needed
 *   (Shamir; otherwise 0).
 * - unsealed: `initialized` true, `sealed` false, `progress` 0, `threshold` as above.
 */
export interface SealStatus {
  kind: SealKind;
  /** A root key exists (a key file, persisted Shamir state, an HSM object). */
  initialized: boolean;
  /** The root key is not in memory: {@link Seal.wrap} and {@link Seal.unwrap} throw `sealed`. */
  sealed: boolean;
  /** Distinct unseal shares accepted so far (Shamir); always 0 for other kinds and when unsealed. */
  progress: number;
  /** Shares needed to unseal (Shamir); 0 for kinds that do not use shares or before initialization. */
  threshold: number;
}

/**
 * Where a seal keeps its non-secret state (e.g. Shamir threshold and a
 * key-check blob). The server backs it with its database; tests use a real
 * file. It never receives a share or the root key: treat its content as
 * public, integrity-relevant configuration.
 */
export interface SealStateStore {
  /** The last state written, or `null` when none was ever written. */
  read(): Promise<string | null>;
  /**
   * Durably stores the first state and resolves true once it would survive
   * a crash. When a state is stored already (another node of the cluster
   * initialized first), changes nothing and resolves false: a replace would
   * make the other node's root key, and everything it wrapped, unrecoverable.
   */
  create(state: string): Promise<boolean>;
}

/**
 * A root-key provider.
 *
 * Contract — when each method returns and when it throws:
 *
 * - {@link Seal.open} resolves when the persisted state was loaded, including
 *   when there is none yet (then `status().initialized === false`). It throws
 *   `KeywardError('internal')` when the state exists but is unusable (a key
 *   file with loose permissions or the wrong size, corrupt Shamir state); the
 *   message names the place, never its content.
 * - {@link Seal.status} never throws and never blocks.
 * - {@link Seal.wrap} resolves with a fresh blob (a new random nonce each call,
 *   so two wraps of the same plaintext differ) when unsealed; it rejects with
 *   `KeywardError('sealed')` when sealed, whatever the input.
 * - {@link Seal.unwrap} resolves with the plaintext when `wrapped` was made by
 *   {@link Seal.wrap} under this root key with byte-identical `aad`. It rejects
 *   with `KeywardError('sealed')` when sealed (checked first, before the blob
 *   is looked at), and with `CryptoError('decrypt_failed')` — one opaque
 *   answer — when the blob is truncated, altered, made under another root
 *   key, or the AAD differs.
 * - {@link Seal.seal} never throws; it zeroes the root key and any unseal
 *   progress and is idempotent. Operations already returned are unaffected;
 *   every later wrap/unwrap rejects with `sealed` until unsealed again.
 *
 * Blobs are only meaningful to a seal holding the same root key; they stay
 * valid across restarts (that is what the root key is for).
 *
 * @example
 * const wrappedKek = await seal.wrap(kek, aadFor(namespace));
 * const kek2 = await seal.unwrap(wrappedKek, aadFor(namespace));
 */
export interface Seal {
  readonly kind: SealKind;
  /** Loads persisted state; for the file seal also reads the root key (unsealing). Call once before anything else. */
  open(): Promise<void>;
  /** A fresh snapshot of the current state. */
  status(): SealStatus;
  /** Wraps a KEK (or any key) under the root key with AAD. Throws KeywardError('sealed') when sealed. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Inverse of wrap. Throws KeywardError('sealed') when sealed; throws CryptoError('decrypt_failed') when the blob or AAD does not authenticate. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Zeroes the root key in memory and any unseal progress. Idempotent. */
  seal(): void;
}

/** A seal whose root key is split into shares held by custodians (Shamir). */
export interface ShareSeal extends Seal {
  /** Creates the root key and returns its shares, leaving the seal unsealed. Conflict when initialized. */
  init(params: { shares: number; threshold: number }): Promise<string[]>;
  /** Adds one custodian's share; unseals when the threshold is reached. */
  submitShare(share: string): Promise<SealStatus>;
}

/** Whether `seal` unseals with shares (`POST /v1/sys/init` and `/v1/sys/unseal` apply to it). */
export function isShareSeal(seal: Seal): seal is ShareSeal {
  return 'submitShare' in seal && 'init' in seal;
}
