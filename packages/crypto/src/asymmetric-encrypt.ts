import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { CryptoError } from './errors.js';
import { encryptionKeyFor, privateKeyFor } from './node-keys.js';

export type AsymmetricEncryptionAlgorithm = 'rsa-oaep-3072' | 'rsa-oaep-4096';

const MODULUS_BYTES: Readonly<Record<AsymmetricEncryptionAlgorithm, number>> = { 'rsa-oaep-3072': 384, 'rsa-oaep-4096': 512 };
const SHA256_BYTES = 32;

function modulusBytes(alg: AsymmetricEncryptionAlgorithm): number {
  if (!Object.hasOwn(MODULUS_BYTES, alg)) throw new CryptoError('unsupported', `${String(alg)} is not an asymmetric encryption algorithm`);
  return MODULUS_BYTES[alg];
}

/**
 * Largest plaintext RSAES-OAEP with SHA-256 accepts: k − 2·hLen − 2 bytes
 * (RFC 8017 §7.1.1 step 1.b): 318 for 3072-bit, 446 for 4096-bit keys.
 */
export function maxAsymmetricPlaintext(alg: AsymmetricEncryptionAlgorithm): number {
  return modulusBytes(alg) - 2 * SHA256_BYTES - 2;
}

/** Length of every RSA-OAEP ciphertext of `alg`: the modulus length k (RFC 8017 §7.1.1 step 3). */
export function asymmetricCiphertextBytes(alg: AsymmetricEncryptionAlgorithm): number {
  return modulusBytes(alg);
}

function oaep(key: KeyObject, label: Uint8Array) {
  // RFC 8017 §7.1: hash = SHA-256; node:crypto uses the same hash for MGF1.
  return { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label };
}

/**
 * RSAES-OAEP encryption (RFC 8017 §7.1.1) with SHA-256, MGF1-SHA-256 and
 * the given label. The key is an SPKI PEM public key, a PKCS#8 DER secret or
 * SPKI DER bytes.
 *
 * @example
 * const ct = asymmetricEncrypt('rsa-oaep-3072', publicKeyPem, dataKey, new Uint8Array());
 * @throws CryptoError `invalid_input` for a plaintext over {@link maxAsymmetricPlaintext}, `invalid_key` for a key of the wrong kind or size.
 */
export function asymmetricEncrypt(
  alg: AsymmetricEncryptionAlgorithm,
  publicKeyPemOrSecret: string | Uint8Array,
  plaintext: Uint8Array,
  label: Uint8Array,
): Uint8Array {
  const max = maxAsymmetricPlaintext(alg);
  if (plaintext.length > max) throw new CryptoError('invalid_input', `plaintext must be at most ${max} bytes for ${alg}`);
  const key = encryptionKeyFor(alg, publicKeyPemOrSecret);
  const out = publicEncrypt(oaep(key, label), plaintext);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * RSAES-OAEP decryption (RFC 8017 §7.1.2). Every failure (wrong length,
 * wrong label, bad padding) throws the same `CryptoError('decrypt_failed')`:
 * RFC 8017 §7.1.2 note, distinguishable errors are an oracle (Manger 2001).
 * A secret of the wrong kind still throws `invalid_key`, which depends only on the key.
 */
export function asymmetricDecrypt(
  alg: AsymmetricEncryptionAlgorithm,
  secret: Uint8Array,
  ciphertext: Uint8Array,
  label: Uint8Array,
): Uint8Array {
  const key = privateKeyFor(alg, secret);
  if (ciphertext.length !== modulusBytes(alg)) throw new CryptoError('decrypt_failed', 'decryption failed');
  try {
    const out = privateDecrypt(oaep(key, label), ciphertext);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    throw new CryptoError('decrypt_failed', 'decryption failed');
  }
}
