import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import {
  type CiphertextAlgorithm,
  CryptoError,
  decryptCiphertextWith,
  ecdsaCompactToDer,
  encryptToCiphertextWith,
  type ParsedCiphertext,
  randomBytes,
  type SignInput,
} from '@keyward/crypto';
import { type AlgorithmName, type KeyProtection, KeywardError } from '@keyward/wire';
import type { SealKind } from '../seal/seal.js';
import type { TokenKeys } from '../seal/token-keys.js';
import type { KeyRecord, VersionRecord } from '../store/records.js';

/** Algorithms whose versions can live in the token so far (docs/keys.md, "Protection"). */
export const HSM_ALGORITHMS: readonly AlgorithmName[] = Object.freeze(['aes-256-gcm', 'ecdsa-p256', 'rsa-pss-3072', 'rsa-pss-4096']);

/**
 * RSA-PSS in the token with the software path's parameters (crypto
 * signature-schemes.ts, API.md): modulus size, the message hash (also MGF1's)
 * and salt length = hash length (RFC 8017 §9.1 note 4), so a signature from
 * the token verifies with the software verify path, node:crypto and openssl.
 */
const RSA_PSS: Readonly<Partial<Record<AlgorithmName, { bits: number; hash: 'sha256' | 'sha512'; saltLength: number }>>> = Object.freeze({
  'rsa-pss-3072': { bits: 3072, hash: 'sha256', saltLength: 32 },
  'rsa-pss-4096': { bits: 4096, hash: 'sha512', saltLength: 64 },
});

/** CKA_ID of a version object: 16 random bytes, so two nodes generating the same version number never collide. */
const OBJECT_ID_BYTES = 16;

const toB64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** A version's objects in the token: their CKA_ID (the version's `material`), its fingerprint and public key. */
export interface GeneratedVersion {
  readonly material: Uint8Array;
  readonly fingerprint: string;
  readonly publicKey: string | null;
}

/**
 * The public key as SPKI PEM and its fingerprint, as the software path
 * (crypto fingerprint()): SHA-256 of the SubjectPublicKeyInfo DER.
 */
function spkiOf(publicKey: KeyObject): { fingerprint: string; publicKey: string } {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    fingerprint: `sha256:${createHash('sha256').update(spki).digest('hex')}`,
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** CKA_LABEL of a version object: binds it to one key version (checked on every use). */
export function versionLabel(keyId: string, version: number): string {
  return `keyward:${keyId}:v${version}`;
}

/**
 * Key versions with `protection: hsm`: generated, used and destroyed inside
 * the PKCS#11 token through the seal's session ({@link TokenKeys}). The
 * version record's `material` holds the object's CKA_ID, never key bytes.
 * Ciphertexts are framed by the crypto package exactly as for software keys.
 */
export class HsmKeys {
  readonly #token: TokenKeys | null;
  readonly #sealKind: SealKind;

  constructor(token: TokenKeys | null, sealKind: SealKind) {
    this.#token = token;
    this.#sealKind = sealKind;
  }

  /**
   * Refuses, before anything is written, a key that asks for a protection
   * this server cannot give: `hsm` off the PKCS#11 seal, for an algorithm
   * not done in the token yet, or exportable. `byClass` names the class when
   * the protection came from its standard rather than the request.
   */
  assertCanProtect(key: Pick<KeyRecord, 'algorithm' | 'exportable' | 'class'>, protection: KeyProtection, byClass: boolean): void {
    if (protection !== 'hsm') return;
    const why = byClass ? `class ${key.class} requires hsm (classes.${key.class}.protection), but ` : '';
    const code = byClass ? 'policy_violation' : 'invalid_request';
    if (this.#token === null) {
      throw new KeywardError(
        code,
        `protection: ${why}hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the ${this.#sealKind} seal`,
      );
    }
    if (!HSM_ALGORITHMS.includes(key.algorithm)) {
      throw new KeywardError(code, `protection: ${why}hsm supports only ${HSM_ALGORITHMS.join(', ')} so far, not ${key.algorithm}`);
    }
    if (key.exportable) throw new KeywardError('invalid_request', 'exportable: an hsm key never leaves the token and cannot be exportable');
  }

  /**
   * True when generating a version of the hsm key `key` takes the token
   * seconds (RSA): it is then generated before the transaction that records
   * it (service/token-versions.ts), never inside.
   */
  slowToGenerate(key: Pick<KeyRecord, 'algorithm'>): boolean {
    return RSA_PSS[key.algorithm] !== undefined;
  }

  /**
   * Generates version `n` of `key` in the token; returns the reference to
   * store as `material`, the version's fingerprint and (ECDSA, RSA) its
   * public key as SPKI PEM, built by node:crypto from the point or the
   * modulus and exponent the token returned. RSA takes seconds, off the
   * event loop: call it with no transaction open ({@link slowToGenerate}).
   */
  async generate(key: Pick<KeyRecord, 'id' | 'algorithm'>, n: number): Promise<GeneratedVersion> {
    const token = this.#require();
    const id = randomBytes(OBJECT_ID_BYTES);
    const pss = RSA_PSS[key.algorithm];
    if (pss !== undefined) {
      try {
        const numbers = await token.generateRsaKeyPair(id, versionLabel(key.id, n), pss.bits);
        const publicKey = createPublicKey({
          key: { kty: 'RSA', n: toB64url(numbers.modulus), e: toB64url(numbers.publicExponent) },
          format: 'jwk',
        });
        return { material: id, ...spkiOf(publicKey) };
      } catch (error) {
        // A pair generated but then refused (its public key unreadable or not of the size asked) must not stay.
        this.discard(id);
        throw error;
      }
    }
    if (key.algorithm === 'ecdsa-p256') {
      const point = token.generateEcKeyPair(id, versionLabel(key.id, n));
      const publicKey = createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: toB64url(point.subarray(1, 33)), y: toB64url(point.subarray(33, 65)) },
        format: 'jwk',
      });
      return { material: id, ...spkiOf(publicKey) };
    }
    token.generateAesKey(id, versionLabel(key.id, n));
    // The key value cannot be read, so the fingerprint names the object (not a secret), not an HMAC of the key.
    return { material: id, fingerprint: `pkcs11-id:${Buffer.from(id).toString('hex')}`, publicKey: null };
  }

  /**
   * Destroys the objects with CKA_ID `material`, made for a version that was
   * never recorded. Never throws: objects a token out of reach keeps are
   * used by nothing (no version record names them).
   */
  discard(material: Uint8Array): void {
    try {
      this.#require().destroyKey(material);
    } catch {}
  }

  /**
   * Signs in the token. ECDSA P-256: the SHA-256 digest of the message is
   * computed here (FIPS 186-5 §6.4.1 step 1) or given by the caller, the
   * token signs it with `CKM_ECDSA`, the result is DER like the software
   * path. RSA-PSS: the token hashes the message and signs it with
   * `CKM_SHA256_RSA_PKCS_PSS` / `CKM_SHA512_RSA_PKCS_PSS` ({@link RSA_PSS});
   * a digest is refused as on the software path (RSA signs messages).
   */
  sign(key: KeyRecord, version: VersionRecord, input: SignInput): Uint8Array {
    const token = this.#require();
    const pss = RSA_PSS[key.algorithm];
    if (pss !== undefined) {
      if ('digest' in input) throw new CryptoError('unsupported', `${key.algorithm} signs messages, not digests`);
      return token.rsaPssSign(
        this.#reference(key, version),
        versionLabel(key.id, version.version),
        pss.hash,
        pss.saltLength,
        input.message,
      );
    }
    const digest = 'digest' in input ? input.digest : createHash('sha256').update(input.message).digest();
    if (digest.length !== 32) throw new CryptoError('invalid_input', 'digest must be 32 bytes for ecdsa-p256');
    const compact = token.ecdsaSignDigest(this.#reference(key, version), versionLabel(key.id, version.version), digest);
    return ecdsaCompactToDer('ecdsa-p256', compact);
  }

  /** Encrypts under an hsm version in the token, into the standard ciphertext format (docs/formats.md). */
  encrypt(key: KeyRecord, version: VersionRecord, plaintext: Uint8Array, context: Record<string, string>): string {
    const token = this.#require();
    const id = this.#reference(key, version);
    const label = versionLabel(key.id, version.version);
    const header = { keyId: key.id, keyVersion: version.version, algorithm: key.algorithm as CiphertextAlgorithm };
    return encryptToCiphertextWith(header, plaintext, context, (nonce, input, aad) => token.aesGcmEncrypt(id, label, nonce, input, aad));
  }

  /** Decrypts a parsed ciphertext in the token; one opaque `CryptoError('decrypt_failed')` when it does not authenticate. */
  decrypt(key: KeyRecord, version: VersionRecord, parsed: ParsedCiphertext, context: Record<string, string>): Uint8Array {
    const token = this.#require();
    const id = this.#reference(key, version);
    const label = versionLabel(key.id, version.version);
    return decryptCiphertextWith(parsed, context, (nonce, body, aad) => token.aesGcmDecrypt(id, label, nonce, body, aad));
  }

  /**
   * Destroys the token objects of versions of an hsm key that are being
   * destroyed (material dropped), before the change commits: a crash after
   * this leaves a version that cannot be used, never a key thought shredded
   * that still exists. An object already gone is not an error.
   */
  destroy(key: KeyRecord, versions: readonly VersionRecord[]): void {
    if (key.protection !== 'hsm') return;
    for (const version of versions) {
      if (version.material !== null) this.#require().destroyKey(version.material);
    }
  }

  #reference(key: KeyRecord, version: VersionRecord): Uint8Array {
    if (version.material === null) {
      throw new KeywardError('invalid_state', `key version ${version.version} of '${key.name}' is ${version.state} and has no material`);
    }
    return version.material;
  }

  #require(): TokenKeys {
    if (this.#token === null) {
      throw new KeywardError('sealed', `hsm keys need the pkcs11 seal; this server runs the ${this.#sealKind} seal`);
    }
    return this.#token;
  }
}
