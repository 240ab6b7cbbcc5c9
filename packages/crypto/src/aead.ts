import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { CryptoError } from './errors.js';

export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

/** 96-bit nonces for both AEADs (NIST SP 800-38D §8.2; RFC 8439 §2.8). */
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
export const AEAD_KEY_BYTES = 32;

/**
 * Cryptographically secure random bytes, written straight into the returned
 * array (no intermediate copy is left behind when the bytes are a key).
 */
export function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

/** Random bytes drawn ahead for nonces: one system call per 4 KiB instead of one per encryption. */
const NONCE_POOL_BYTES = 4096;
const noncePool = new Uint8Array(NONCE_POOL_BYTES);
let nonceOffset = NONCE_POOL_BYTES;

/**
 * A fresh random 96-bit AEAD nonce (NIST SP 800-38D §8.2.2, RBG-based
 * construction). Nonces are public, so drawing them from a pool filled by
 * the CSPRNG is safe; each pool byte is handed out once.
 */
export function randomNonce(): Uint8Array {
  if (nonceOffset + AEAD_NONCE_BYTES > NONCE_POOL_BYTES) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  const nonce = noncePool.slice(nonceOffset, nonceOffset + AEAD_NONCE_BYTES);
  nonceOffset += AEAD_NONCE_BYTES;
  return nonce;
}

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== AEAD_KEY_BYTES) throw new CryptoError('invalid_key', 'AEAD key must be 32 bytes');
  if (nonce.length !== AEAD_NONCE_BYTES) throw new CryptoError('invalid_input', 'AEAD nonce must be 12 bytes');
}

/**
 * Encrypts with an AEAD and returns ciphertext followed by the 16-byte tag.
 *
 * @example
 * const sealed = aeadEncrypt('aes-256-gcm', key, nonce, plaintext, aad);
 */
export function aeadEncrypt(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  const cipher =
    algorithm === 'aes-256-gcm'
      ? createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES })
      : createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Decrypts ciphertext-with-tag. Any failure (short input, wrong key, wrong
 * AAD, flipped bit) throws the same `CryptoError('decrypt_failed')`.
 */
export function aeadDecrypt(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyAndNonce(key, nonce);
  if (sealed.length < AEAD_TAG_BYTES) throw new CryptoError('decrypt_failed', 'decryption failed');
  const body = sealed.subarray(0, sealed.length - AEAD_TAG_BYTES);
  const tag = sealed.subarray(sealed.length - AEAD_TAG_BYTES);
  try {
    const decipher =
      algorithm === 'aes-256-gcm'
        ? createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES })
        : createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad, { plaintextLength: body.length });
    const out = Buffer.concat([decipher.update(body), decipher.final()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    throw new CryptoError('decrypt_failed', 'decryption failed');
  }
}

/**
 * Wraps key material under a 256-bit key-encryption key with AES-256-GCM and
 * a fresh random nonce. Output: nonce (12) ‖ ciphertext ‖ tag (16). The AAD
 * binds the material to where it belongs (DESIGN.md, "Key hierarchy").
 */
export function wrapKey(kek: Uint8Array, material: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = randomNonce();
  const sealed = aeadEncrypt('aes-256-gcm', kek, nonce, material, aad);
  const out = new Uint8Array(nonce.length + sealed.length);
  out.set(nonce, 0);
  out.set(sealed, nonce.length);
  return out;
}

/** Inverse of {@link wrapKey}; throws `CryptoError('decrypt_failed')` on any mismatch. */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
  if (wrapped.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) throw new CryptoError('decrypt_failed', 'decryption failed');
  return aeadDecrypt('aes-256-gcm', kek, wrapped.subarray(0, AEAD_NONCE_BYTES), wrapped.subarray(AEAD_NONCE_BYTES), aad);
}
