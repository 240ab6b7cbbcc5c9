import { createHmac, timingSafeEqual } from 'node:crypto';
import { CryptoError } from './errors.js';

export type MacAlgorithm = 'hmac-sha256' | 'hmac-sha512';

const PARAMS: Readonly<Record<MacAlgorithm, { hash: 'sha256' | 'sha512'; keyBytes: number }>> = {
  'hmac-sha256': { hash: 'sha256', keyBytes: 32 },
  'hmac-sha512': { hash: 'sha512', keyBytes: 64 },
};

function params(alg: MacAlgorithm): { hash: 'sha256' | 'sha512'; keyBytes: number } {
  if (!Object.hasOwn(PARAMS, alg)) throw new CryptoError('unsupported', `${String(alg)} is not a MAC algorithm`);
  return PARAMS[alg];
}

/** HMAC (RFC 2104) with any key length; the full-length tag. Internal: {@link mac} is the checked entry point. */
export function hmacTag(alg: MacAlgorithm, key: Uint8Array, message: Uint8Array): Uint8Array {
  const tag = createHmac(params(alg).hash, key).update(message).digest();
  return new Uint8Array(tag.buffer, tag.byteOffset, tag.byteLength);
}

/**
 * Constant-time comparison against the full-length HMAC tag (RFC 2104 §5:
 * Keyward never truncates). False on any length mismatch.
 */
export function hmacVerify(alg: MacAlgorithm, key: Uint8Array, message: Uint8Array, tag: Uint8Array): boolean {
  const expected = hmacTag(alg, key, message);
  // The length of a tag is public (fixed per algorithm), so checking it first leaks nothing.
  return tag.length === expected.length && timingSafeEqual(expected, tag);
}

function checkKey(alg: MacAlgorithm, secret: Uint8Array): void {
  const { keyBytes } = params(alg);
  if (secret.length !== keyBytes) throw new CryptoError('invalid_key', `${alg} secret must be ${keyBytes} bytes`);
}

/**
 * HMAC-SHA-256 / HMAC-SHA-512 (RFC 2104, FIPS 198-1) of a message; 32- or
 * 64-byte tag. The secret must have the registry's length (32 / 64 bytes).
 *
 * @example
 * const tag = mac('hmac-sha256', secret, message);
 */
export function mac(alg: MacAlgorithm, secret: Uint8Array, message: Uint8Array): Uint8Array {
  checkKey(alg, secret);
  return hmacTag(alg, secret, message);
}

/**
 * Checks a tag in constant time (`timingSafeEqual`); false on a length
 * mismatch (truncated tags are never accepted) or a wrong tag.
 *
 * @example
 * if (!verifyMac('hmac-sha512', secret, message, tag)) reject();
 */
export function verifyMac(alg: MacAlgorithm, secret: Uint8Array, message: Uint8Array, tag: Uint8Array): boolean {
  checkKey(alg, secret);
  return hmacVerify(alg, secret, message, tag);
}
