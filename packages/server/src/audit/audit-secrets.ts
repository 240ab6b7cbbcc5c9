import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { auditKeyId } from '@keyward/crypto';
import { zero } from '../seal/zero.js';
import type { Keyring } from '../service/keyring.js';
import type { Store } from '../store/store.js';

const SALT_META = 'audit.salt';
const SIGNING_KEY_META = 'audit.signing-key';
const SALT_AAD = Buffer.from('keyward audit salt v1', 'utf8');
const SIGNING_KEY_AAD = Buffer.from('keyward audit signing key v1', 'utf8');

/** The meta rows holding root-wrapped audit secrets (base64), with their AADs; backups re-wrap them. */
export const WRAPPED_AUDIT_META: ReadonlyMap<string, Uint8Array> = new Map([
  [SALT_META, SALT_AAD],
  [SIGNING_KEY_META, SIGNING_KEY_AAD],
]);

/** The audit key pair: Ed25519, the private half held under the seal. */
export interface AuditSigner {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** `sha256:` + hex SHA-256 of the public key's SPKI DER. */
  keyId: string;
}

interface Loaded {
  salt: Buffer;
  signer: AuditSigner;
}

/**
 * The installation's audit secrets, both wrapped under the root key in the
 * store's meta table and created on first use by whichever node gets there
 * first:
 *
 * - the **salt** that sensitive audit values are HMAC-SHA256'd with, so the
 *   log holds `hmac-sha256:<hex>` and an auditor who holds a value can have
 *   it hashed (`POST /v1/audit/hash`) and compare, but nobody can read it back
 *   or test guesses without the service;
 * - the **Ed25519 audit key** that signs checkpoints.
 *
 * Neither is available while sealed: then checkpoints wait and sensitive
 * values are recorded as `redacted` (no cryptographic operation runs sealed,
 * so that is rare).
 */
export class AuditSecrets {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #isSealed: () => boolean;
  #loaded: Loaded | null = null;
  #loading: Promise<Loaded> | null = null;

  constructor(deps: { store: Store; keyring: Keyring; isSealed: () => boolean }) {
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#isSealed = deps.isSealed;
  }

  /** The secrets, loading (or creating) them on first use; null while sealed. */
  async load(): Promise<Loaded | null> {
    if (this.#loaded !== null) return this.#loaded;
    if (this.#isSealed()) return null;
    if (this.#loading === null) {
      this.#loading = this.#read().finally(() => {
        this.#loading = null;
      });
    }
    this.#loaded = await this.#loading;
    return this.#loaded;
  }

  /** The loaded secrets without waiting; null when not loaded (sealed, or not yet used). */
  peek(): Loaded | null {
    return this.#loaded;
  }

  /** `hmac-sha256:` + hex HMAC of `value` under the salt. */
  static hmac(salt: Buffer, value: Uint8Array): string {
    return `hmac-sha256:${createHmac('sha256', salt).update(value).digest('hex')}`;
  }

  /** Zeroes the salt and drops the signing key; called when Keyward seals. */
  forget(): void {
    if (this.#loaded !== null) zero(this.#loaded.salt);
    this.#loaded = null;
  }

  async #read(): Promise<Loaded> {
    const salt = Buffer.from(await this.#secret(SALT_META, SALT_AAD, () => randomBytes(32)));
    const der = await this.#secret(SIGNING_KEY_META, SIGNING_KEY_AAD, () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      return privateKey.export({ type: 'pkcs8', format: 'der' });
    });
    const privateKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    zero(der);
    const publicKey = createPublicKey(privateKey);
    return { salt, signer: { privateKey, publicKey, keyId: auditKeyId(publicKey) } };
  }

  /** Unwraps the secret stored under `name`, first storing a new one unless another node already has. */
  async #secret(name: string, aad: Uint8Array, create: () => Uint8Array): Promise<Uint8Array> {
    let stored = await this.#store.getMeta(name);
    if (stored === null) {
      const fresh = create();
      const wrapped = await this.#keyring.wrapSecret(aad, fresh);
      zero(fresh);
      stored = await this.#store.claimMeta(name, Buffer.from(wrapped).toString('base64'));
    }
    return this.#keyring.unwrapSecret(aad, Buffer.from(stored, 'base64'));
  }
}
