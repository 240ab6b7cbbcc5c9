import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  hkdfSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
} from 'node:crypto';
import type { ExportWrappingAlgorithm, ImportWrappingAlgorithm } from '@keyward/wire';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { randomBytes } from './aead.js';
import { CryptoError } from './errors.js';

/**
 * Key transport for BYOK import and wrapped export (docs/transit.md). Every
 * primitive is node:crypto (RSA-OAEP, AES key wrap with padding) or
 * @noble/post-quantum (ML-KEM-768); nothing is hand-rolled.
 */

/** RFC 5649 §3: the alternative initial value's 32-bit constant (node:crypto takes it as the IV). */
const KWP_AIV = Buffer.from('a65959a6', 'hex');
/** The ephemeral key of RSA_AES_KEY_WRAP_SHA_256 and the KWP key of ML_KEM_768_AES_KWP: AES-256. */
export const KWP_KEY_BYTES = 32;
/** The smallest RSA modulus a recipient key may have (NIST SP 800-131A Rev. 2: 2048 bits until 2030). */
export const MIN_RECIPIENT_RSA_BITS = 2048;
/** HKDF-SHA-256 `info` deriving the AES-KWP key from an ML-KEM-768 shared secret (docs/transit.md). */
export const ML_KEM_KWP_INFO = 'keyward ml-kem-768 aes-kwp v1';
/** FIPS 203 Table 3: ML-KEM-768 encapsulation key and ciphertext sizes. */
export const ML_KEM_768_PUBLIC_KEY_BYTES = 1184;
export const ML_KEM_768_CIPHERTEXT_BYTES = 1088;

/**
 * DER of AlgorithmIdentifier { id-alg-ml-kem-768 } (OID 2.16.840.1.101.3.4.4.2,
 * parameters absent), draft-ietf-lamps-kyber-certificates §4.
 */
const ML_KEM_768_ALGORITHM_IDENTIFIER = Uint8Array.of(0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, 0x02);

/** AES-256 key wrap with padding (RFC 5649), as `openssl enc -id-aes256-wrap-pad -iv A65959A6` does it. */
export function aesKwpWrap(kek: Uint8Array, keyData: Uint8Array): Uint8Array {
  if (kek.length !== KWP_KEY_BYTES) throw new CryptoError('invalid_key', 'AES-KWP key must be 32 bytes');
  if (keyData.length === 0) throw new CryptoError('invalid_input', 'nothing to wrap');
  const cipher = createCipheriv('id-aes256-wrap-pad', kek, KWP_AIV);
  return new Uint8Array(Buffer.concat([cipher.update(keyData), cipher.final()]));
}

/** Inverse of {@link aesKwpWrap}; any failure of the RFC 5649 §3 integrity check is `decrypt_failed`. */
export function aesKwpUnwrap(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  if (kek.length !== KWP_KEY_BYTES) throw new CryptoError('invalid_key', 'AES-KWP key must be 32 bytes');
  // RFC 5649 §4.2: at least two 64-bit blocks, a whole number of them.
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) throw new CryptoError('decrypt_failed', 'unwrap failed');
  try {
    const decipher = createDecipheriv('id-aes256-wrap-pad', kek, KWP_AIV);
    return new Uint8Array(Buffer.concat([decipher.update(wrapped), decipher.final()]));
  } catch {
    throw new CryptoError('decrypt_failed', 'unwrap failed');
  }
}

const OAEP_SHA256 = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

function rsaBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || bits === undefined) throw new CryptoError('invalid_key', 'not an RSA key');
  return Math.ceil(bits / 8);
}

/**
 * The operator's side of BYOK import: wraps `material` for a Keyward
 * wrapping public key (PEM) as {@link unwrapImported} expects it, exactly as
 * the openssl recipe of docs/transit.md does.
 *
 * @example
 * const wrappedKey = wrapForImport('RSA_AES_KEY_WRAP_SHA_256', params.publicKey, material);
 */
export function wrapForImport(algorithm: ImportWrappingAlgorithm, wrappingPublicKeyPem: string, material: Uint8Array): Uint8Array {
  let key: KeyObject;
  try {
    key = createPublicKey(wrappingPublicKeyPem);
  } catch {
    throw new CryptoError('invalid_key', 'not a PEM public key');
  }
  rsaBytes(key);
  if (algorithm === 'RSAES_OAEP_SHA_256') return new Uint8Array(publicEncrypt({ key, ...OAEP_SHA256 }, material));
  const ephemeral = randomBytes(KWP_KEY_BYTES);
  try {
    return new Uint8Array(Buffer.concat([publicEncrypt({ key, ...OAEP_SHA256 }, ephemeral), aesKwpWrap(ephemeral, material)]));
  } finally {
    ephemeral.fill(0);
  }
}

/**
 * Unwraps imported key material with the private half of a wrapping key pair.
 * `RSAES_OAEP_SHA_256`: RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of the
 * material itself. `RSA_AES_KEY_WRAP_SHA_256`: RSA-OAEP of a 32-byte
 * ephemeral AES key, followed by the material wrapped under it with AES-KWP.
 * Every failure is the same `decrypt_failed`, so the answer is no oracle.
 */
export function unwrapImported(algorithm: ImportWrappingAlgorithm, privateKey: KeyObject, blob: Uint8Array): Uint8Array {
  const modulus = rsaBytes(privateKey);
  const decrypt = (data: Uint8Array): Uint8Array => {
    try {
      return new Uint8Array(privateDecrypt({ key: privateKey, ...OAEP_SHA256 }, data));
    } catch {
      throw new CryptoError('decrypt_failed', 'unwrap failed');
    }
  };
  if (algorithm === 'RSAES_OAEP_SHA_256') {
    if (blob.length !== modulus) throw new CryptoError('decrypt_failed', 'unwrap failed');
    return decrypt(blob);
  }
  if (blob.length <= modulus) throw new CryptoError('decrypt_failed', 'unwrap failed');
  const ephemeral = decrypt(blob.subarray(0, modulus));
  try {
    if (ephemeral.length !== KWP_KEY_BYTES) throw new CryptoError('decrypt_failed', 'unwrap failed');
    return aesKwpUnwrap(ephemeral, blob.subarray(modulus));
  } finally {
    ephemeral.fill(0);
  }
}

/** A recipient's public key, parsed and checked: an RSA key of at least 2048 bits, or an ML-KEM-768 key. */
export type RecipientKey = { kind: 'rsa'; key: KeyObject; spki: Uint8Array } | { kind: 'ml-kem-768'; key: Uint8Array; spki: Uint8Array };

/** The DER inside one PEM block of `label`, or null. */
function pemBody(pem: string, label: string): Uint8Array | null {
  const match = new RegExp(`^-----BEGIN ${label}-----\\r?\\n([A-Za-z0-9+/=\\r\\n]+)-----END ${label}-----\\s*$`).exec(pem.trim());
  if (match === null || match[1] === undefined) return null;
  return new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ''), 'base64'));
}

/**
 * Parses a recipient public key (PEM SubjectPublicKeyInfo) for `algorithm`:
 * RSA of at least 2048 bits for `RSA_AES_KEY_WRAP_SHA_256`, ML-KEM-768
 * (draft-ietf-lamps-kyber-certificates SPKI) for `ML_KEM_768_AES_KWP`.
 * Throws `CryptoError('invalid_key')` saying what is wrong (the key is public).
 */
export function parseRecipientKey(algorithm: ExportWrappingAlgorithm, pem: string): RecipientKey {
  const der = pemBody(pem, 'PUBLIC KEY');
  if (der === null) throw new CryptoError('invalid_key', 'not a PEM "PUBLIC KEY" (SubjectPublicKeyInfo)');
  if (algorithm === 'ML_KEM_768_AES_KWP') {
    const prefix = Buffer.concat([
      Uint8Array.of(0x30, 0x82, 0x04, 0xb2),
      ML_KEM_768_ALGORITHM_IDENTIFIER,
      Uint8Array.of(0x03, 0x82, 0x04, 0xa1, 0x00),
    ]);
    if (der.length !== prefix.length + ML_KEM_768_PUBLIC_KEY_BYTES || !prefix.equals(der.subarray(0, prefix.length))) {
      throw new CryptoError('invalid_key', 'not an ML-KEM-768 SubjectPublicKeyInfo');
    }
    return { kind: 'ml-kem-768', key: der.slice(prefix.length), spki: der };
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    throw new CryptoError('invalid_key', 'not a SubjectPublicKeyInfo');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || bits === undefined) throw new CryptoError('invalid_key', 'not an RSA public key');
  if (bits < MIN_RECIPIENT_RSA_BITS)
    throw new CryptoError('invalid_key', `an RSA key of ${bits} bits; at least ${MIN_RECIPIENT_RSA_BITS} needed`);
  return { kind: 'rsa', key, spki: der };
}

/** The SubjectPublicKeyInfo DER of an ML-KEM-768 encapsulation key (for tests and tools). */
export function mlKem768Spki(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== ML_KEM_768_PUBLIC_KEY_BYTES) throw new CryptoError('invalid_key', 'ML-KEM-768 public key must be 1184 bytes');
  return new Uint8Array(
    Buffer.concat([
      Uint8Array.of(0x30, 0x82, 0x04, 0xb2),
      ML_KEM_768_ALGORITHM_IDENTIFIER,
      Uint8Array.of(0x03, 0x82, 0x04, 0xa1, 0x00),
      publicKey,
    ]),
  );
}

/** The AES-KWP key of ML_KEM_768_AES_KWP: HKDF-SHA-256 (RFC 5869), salt empty, info {@link ML_KEM_KWP_INFO}, 32 bytes. */
export function mlKemKwpKey(sharedSecret: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', sharedSecret, new Uint8Array(0), ML_KEM_KWP_INFO, KWP_KEY_BYTES));
}

/**
 * Wraps material for a recipient (wrapped export).
 * `RSA_AES_KEY_WRAP_SHA_256`: RSA-OAEP-SHA-256(ephemeral AES-256 key) ‖ AES-KWP(ephemeral, material);
 * the first part is as long as the recipient's modulus.
 * `ML_KEM_768_AES_KWP`: ML-KEM-768 ciphertext (1088 bytes) ‖ AES-KWP(HKDF(shared secret), material).
 *
 * @example
 * const blob = wrapForRecipient(parseRecipientKey('RSA_AES_KEY_WRAP_SHA_256', pem), material);
 */
export function wrapForRecipient(recipient: RecipientKey, material: Uint8Array): Uint8Array {
  if (recipient.kind === 'rsa') {
    const ephemeral = randomBytes(KWP_KEY_BYTES);
    try {
      const head = publicEncrypt({ key: recipient.key, ...OAEP_SHA256 }, ephemeral);
      return new Uint8Array(Buffer.concat([head, aesKwpWrap(ephemeral, material)]));
    } finally {
      ephemeral.fill(0);
    }
  }
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(recipient.key);
  const kek = mlKemKwpKey(sharedSecret);
  sharedSecret.fill(0);
  try {
    return new Uint8Array(Buffer.concat([cipherText, aesKwpWrap(kek, material)]));
  } finally {
    kek.fill(0);
  }
}
