import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { zero } from '../seal/zero.js';
import type { Store } from '../store/store.js';
import type { Keyring } from './keyring.js';

const ATTESTATION_KEY_META = 'attestation.signing-key';
const ATTESTATION_KEY_AAD = Buffer.from('keyward attestation signing key v1', 'utf8');

/** The meta row holding the root-wrapped attestation key (base64), with its AAD; backups and the seal rekey re-wrap it. */
export const WRAPPED_ATTESTATION_META: ReadonlyMap<string, Uint8Array> = new Map([[ATTESTATION_KEY_META, ATTESTATION_KEY_AAD]]);

/** The attestation key pair: Ed25519, the private half held under the seal. */
export interface AttestationSigner {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a JWK (RFC 8037). */
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
  /** The RFC 7638 JWK thumbprint (SHA-256, base64url): the `kid` of attestations. */
  kid: string;
}

/**
 * The installation's attestation key (docs/operations.md "Reading an
 * attestation"): an Ed25519 key separate from the audit key, created on
 * first use by whichever node gets there first, wrapped under the root key
 * (through the seal) in the store's meta table exactly as the audit key is
 * (audit/audit-secrets.ts). Not available while sealed; dropped when
 * Keyward seals.
 */
export class AttestationKey {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #isSealed: () => boolean;
  #loaded: AttestationSigner | null = null;
  #loading: Promise<AttestationSigner> | null = null;

  constructor(deps: { store: Store; keyring: Keyring; isSealed: () => boolean }) {
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#isSealed = deps.isSealed;
  }

  /** The key pair, loading (or creating) it on first use; null while sealed. */
  async load(): Promise<AttestationSigner | null> {
    // Checked on every use, not only the first: a sealed Keyward signs nothing, and forgets the key.
    if (this.#isSealed()) {
      this.#loaded = null;
      return null;
    }
    if (this.#loaded !== null) return this.#loaded;
    if (this.#loading === null) {
      this.#loading = this.#read().finally(() => {
        this.#loading = null;
      });
    }
    this.#loaded = await this.#loading;
    return this.#loaded;
  }

  /** Drops the key pair; called when Keyward seals. */
  forget(): void {
    this.#loaded = null;
  }

  async #read(): Promise<AttestationSigner> {
    let stored = await this.#store.getMeta(ATTESTATION_KEY_META);
    if (stored === null) {
      const { privateKey } = generateKeyPairSync('ed25519');
      const fresh = privateKey.export({ type: 'pkcs8', format: 'der' });
      const wrapped = await this.#keyring.wrapSecret(ATTESTATION_KEY_AAD, fresh);
      zero(fresh);
      // Another node may have stored one first: claimMeta returns whichever is stored.
      stored = await this.#store.claimMeta(ATTESTATION_KEY_META, Buffer.from(wrapped).toString('base64'));
    }
    const der = await this.#keyring.unwrapSecret(ATTESTATION_KEY_AAD, Buffer.from(stored, 'base64'));
    const copy = Buffer.from(der);
    zero(der);
    const privateKey = createPrivateKey({ key: copy, format: 'der', type: 'pkcs8' });
    zero(copy);
    const publicKey = createPublicKey(privateKey);
    const exported = await exportJWK(publicKey);
    if (exported.kty !== 'OKP' || exported.crv !== 'Ed25519' || exported.x === undefined) {
      throw new Error('the attestation key is not an Ed25519 key');
    }
    const jwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: exported.x };
    return { privateKey, publicKey, jwk, kid: await calculateJwkThumbprint(jwk, 'sha256') };
  }
}
