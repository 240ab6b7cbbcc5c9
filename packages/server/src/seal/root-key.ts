import { CryptoError, unwrapKey, wrapKey } from '@keyward/crypto';
import { zero } from './zero.js';

/** The root key is 256 bits (DESIGN.md, "Key hierarchy"). */
export const ROOT_KEY_BYTES = 32;

/**
 * Prefix of the AAD of every blob a seal wraps for a caller. It separates
 * those blobs from the seal's own key-check blob (AAD `keyward/seal/check/v1`),
 * so neither can be passed off as the other. Fixed length, so prefix ‖ aad
 * is unambiguous.
 */
const WRAP_AAD_PREFIX = new TextEncoder().encode('keyward/seal/wrap/v1\0');

/**
 * A root key in memory, shared by the software seals (file, Shamir). Takes
 * ownership of the bytes it is given: {@link RootKey.destroy} zeroes them.
 * Blobs are `wrapKey` output (AES-256-GCM, nonce ‖ ciphertext ‖ tag).
 */
export class RootKey {
  #bytes: Uint8Array;

  /** @param bytes 32 bytes; the caller must not keep or reuse them. */
  constructor(bytes: Uint8Array) {
    if (bytes.length !== ROOT_KEY_BYTES) throw new CryptoError('invalid_key', 'root key must be 32 bytes');
    this.#bytes = bytes;
  }

  /** Wraps `plaintext` with the caller's AAD under the domain prefix. */
  wrap(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return wrapKey(this.#bytes, plaintext, callerAad(aad));
  }

  /** Inverse of {@link RootKey.wrap}; throws `CryptoError('decrypt_failed')` on any mismatch. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
    return unwrapKey(this.#bytes, wrapped, callerAad(aad));
  }

  /** Wraps with a raw AAD (no caller prefix); for the seal's own records such as the key check. */
  wrapRaw(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return wrapKey(this.#bytes, plaintext, aad);
  }

  /** Inverse of {@link RootKey.wrapRaw}. */
  unwrapRaw(wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
    return unwrapKey(this.#bytes, wrapped, aad);
  }

  /** Zeroes the key; the object must not be used afterwards. Idempotent. */
  destroy(): void {
    zero(this.#bytes);
  }
}

/**
 * The AAD a seal actually authenticates for a caller's blob: the domain
 * prefix ‖ `aad`. Every seal uses it (the PKCS#11 seal hands it to the HSM),
 * so the separation from the key-check blob holds whatever holds the root key.
 */
export function callerAad(aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(WRAP_AAD_PREFIX.length + aad.length);
  out.set(WRAP_AAD_PREFIX, 0);
  out.set(aad, WRAP_AAD_PREFIX.length);
  return out;
}
