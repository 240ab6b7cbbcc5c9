import { RootKey } from '../root-key.js';
import type { Seal, SealStatus } from '../seal.js';
import { sealedError } from '../sealed-error.js';
import { createKeyFile, readKeyFile } from './key-file.js';

/** Configuration of a {@link FileSeal}; frozen at construction. */
export interface FileSealConfig {
  /** Path of the root key file (32 raw bytes, mode 0600). Appears in error messages. */
  readonly path: string;
}

/**
 * A seal whose root key sits in a local file. For development and
 * single-machine deployments only: anyone who can read the file (or a backup
 * of it) holds every key. See `docs/seals.md`.
 *
 * `open()` unseals by reading the file; `seal()` zeroes the in-memory copy
 * and `open()` unseals again.
 *
 * @example
 * const seal = new FileSeal({ path: '/var/lib/keyward/root.key' });
 * await seal.open();
 * if (!seal.status().initialized) await seal.init();
 */
export class FileSeal implements Seal {
  readonly kind = 'file' as const;
  readonly #config: Readonly<FileSealConfig>;
  #initialized = false;
  #root: RootKey | null = null;

  constructor(config: FileSealConfig) {
    this.#config = Object.freeze({ path: config.path });
  }

  /**
   * Creates the key file (exclusively, mode 0600) with a fresh root key and
   * leaves the seal unsealed. Throws `KeywardError('conflict')` when the file
   * already exists.
   */
  async init(): Promise<void> {
    const key = await createKeyFile(this.#config.path);
    this.#replaceRoot(new RootKey(key));
    this.#initialized = true;
  }

  /**
   * Reads the key file and unseals. A missing file leaves the seal sealed and
   * uninitialized; an unsafe file (group/other access, wrong size) throws
   * `KeywardError('internal')` naming the path, and leaves the seal sealed.
   */
  async open(): Promise<void> {
    let key: Uint8Array | null;
    try {
      key = await readKeyFile(this.#config.path);
    } catch (error) {
      this.seal();
      throw error;
    }
    this.#initialized = key !== null;
    this.#replaceRoot(key === null ? null : new RootKey(key));
  }

  status(): SealStatus {
    return Object.freeze({ kind: this.kind, initialized: this.#initialized, sealed: this.#root === null, progress: 0, threshold: 0 });
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
    this.#replaceRoot(null);
  }

  #replaceRoot(root: RootKey | null): void {
    this.#root?.destroy();
    this.#root = root;
  }
}
