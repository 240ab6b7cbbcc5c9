import { AEAD_KEY_BYTES, CryptoError, randomBytes, unwrapKey, wrapKey } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { kekAad, materialAad } from '../keys/material-aad.js';
import type { Seal } from '../seal/seal.js';
import { zero } from '../seal/zero.js';
import type { KeyRecord, VersionRecord } from '../store/records.js';
import type { StoreOps } from '../store/store.js';

const MAX_CACHED_MATERIAL = 10_000;

/**
 * The key hierarchy: root key (in the seal) → namespace KEKs → version
 * material. Unwrapped KEKs and material live only in bounded in-memory caches
 * that are zeroed on eviction and when Keyward seals.
 */
export class Keyring {
  readonly #seal: Seal;
  readonly #keks = new Map<string, Uint8Array>();
  readonly #material = new Map<string, Uint8Array>();

  constructor(seal: Seal) {
    this.#seal = seal;
  }

  /** The namespace's current KEK, created (and stored in `tx`) on first use. */
  async currentKek(tx: StoreOps, namespace: string, now: Date): Promise<{ version: number; key: Uint8Array }> {
    const stored = await tx.getKek(namespace);
    if (stored !== null) return { version: stored.version, key: await this.#unwrapKek(namespace, stored.version, stored.wrapped) };
    const key = randomBytes(AEAD_KEY_BYTES);
    const wrapped = await this.#seal.wrap(key, kekAad(namespace, 1));
    await tx.insertKek({ namespace, version: 1, wrapped, createdAt: now.toISOString() });
    this.#keks.set(`${namespace}\0${1}`, key);
    return { version: 1, key };
  }

  /** Wraps new version material under the namespace's current KEK. */
  async wrapMaterial(
    tx: StoreOps,
    key: Pick<KeyRecord, 'namespace' | 'id' | 'algorithm'>,
    version: number,
    secret: Uint8Array,
    now: Date,
  ): Promise<{ material: Uint8Array; kekVersion: number }> {
    const kek = await this.currentKek(tx, key.namespace, now);
    const material = wrapKey(kek.key, secret, materialAad(key.namespace, key.id, version, key.algorithm));
    return { material, kekVersion: kek.version };
  }

  /**
   * Wraps a secret of the service (a BYOK import wrapping key) under the
   * namespace's current KEK, bound by `aad`, as version material is.
   */
  async wrapUnderKek(
    tx: StoreOps,
    namespace: string,
    aad: Uint8Array,
    secret: Uint8Array,
    now: Date,
  ): Promise<{ wrapped: Uint8Array; kekVersion: number }> {
    const kek = await this.currentKek(tx, namespace, now);
    return { wrapped: wrapKey(kek.key, secret, aad), kekVersion: kek.version };
  }

  /** Inverse of {@link wrapUnderKek}; never cached. An altered or moved blob is an integrity failure of the database. */
  async unwrapUnderKek(store: StoreOps, namespace: string, kekVersion: number, aad: Uint8Array, wrapped: Uint8Array): Promise<Uint8Array> {
    const kek = await store.getKek(namespace, kekVersion);
    if (kek === null) throw new KeywardError('internal', `the KEK ${kekVersion} of namespace '${namespace}' is missing from the store`);
    const kekKey = await this.#unwrapKek(namespace, kek.version, kek.wrapped);
    try {
      return unwrapKey(kekKey, wrapped, aad);
    } catch (error) {
      if (error instanceof CryptoError) {
        throw new KeywardError('internal', 'a KEK-wrapped secret failed its integrity check; the database may have been altered');
      }
      throw error;
    }
  }

  /**
   * The unwrapped secret of a version. A row whose material does not
   * authenticate under its binding (edited, or swapped from another key)
   * is an integrity failure of the database, never a wrong key.
   */
  async secret(store: StoreOps, key: KeyRecord, version: VersionRecord): Promise<Uint8Array> {
    const id = `${key.id}\0${version.version}`;
    const cached = this.#material.get(id);
    if (cached !== undefined) return cached;
    if (version.material === null) {
      throw new KeywardError('invalid_state', `key version ${version.version} of '${key.name}' is ${version.state} and has no material`);
    }
    const kek = await store.getKek(key.namespace, version.kekVersion);
    if (kek === null) throw new KeywardError('internal', `the KEK protecting key '${key.name}' is missing from the store`);
    const kekKey = await this.#unwrapKek(key.namespace, kek.version, kek.wrapped);
    let secret: Uint8Array;
    try {
      secret = unwrapKey(kekKey, version.material, materialAad(key.namespace, key.id, version.version, key.algorithm));
    } catch (error) {
      if (error instanceof CryptoError) {
        throw new KeywardError(
          'internal',
          `stored material of key '${key.name}' version ${version.version} failed its integrity check; the database may have been altered`,
        );
      }
      throw error;
    }
    if (this.#material.size >= MAX_CACHED_MATERIAL) {
      const [oldest, bytes] = this.#material.entries().next().value as [string, Uint8Array];
      zero(bytes);
      this.#material.delete(oldest);
    }
    this.#material.set(id, secret);
    return secret;
  }

  async #unwrapKek(namespace: string, version: number, wrapped: Uint8Array): Promise<Uint8Array> {
    const id = `${namespace}\0${version}`;
    const cached = this.#keks.get(id);
    if (cached !== undefined) return cached;
    let key: Uint8Array;
    try {
      key = await this.#seal.unwrap(wrapped, kekAad(namespace, version));
    } catch (error) {
      if (error instanceof CryptoError) {
        throw new KeywardError('internal', `the KEK of namespace '${namespace}' failed its integrity check under the root key`);
      }
      throw error;
    }
    this.#keks.set(id, key);
    return key;
  }

  /**
   * Wraps a small secret the service must recover later (a webhook signing
   * secret) directly under the root key; `aad` binds it to its owner, so a
   * blob copied to another row fails to unwrap.
   */
  wrapSecret(aad: Uint8Array, secret: Uint8Array): Promise<Uint8Array> {
    return this.#seal.wrap(secret, aad);
  }

  /** Unwraps a secret made by {@link wrapSecret}; an altered or moved blob is an integrity failure. */
  async unwrapSecret(aad: Uint8Array, wrapped: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.#seal.unwrap(wrapped, aad);
    } catch (error) {
      if (error instanceof CryptoError)
        throw new KeywardError('internal', 'a wrapped secret failed its integrity check under the root key');
      throw error;
    }
  }

  /** Drops (and zeroes) cached material of one key, e.g. after a state change. */
  forgetKey(keyId: string): void {
    for (const [id, bytes] of this.#material) {
      if (id.startsWith(`${keyId}\0`)) {
        zero(bytes);
        this.#material.delete(id);
      }
    }
  }

  /** Zeroes and drops everything; called when Keyward seals. */
  clear(): void {
    for (const bytes of this.#material.values()) zero(bytes);
    for (const bytes of this.#keks.values()) zero(bytes);
    this.#material.clear();
    this.#keks.clear();
  }
}
