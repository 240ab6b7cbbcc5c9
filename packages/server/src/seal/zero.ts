import { forgetPrivateKey } from '@keyward/crypto';

/**
 * Overwrites `bytes` with zeros in place (and drops the KeyObject node:crypto
 * parsed from them for signing, if any), so a secret does not linger in
 * memory after use. JavaScript gives no guarantee that no other copy exists
 * (the engine may have moved the buffer), so this reduces exposure, it does
 * not eliminate it; callers therefore also avoid making copies.
 *
 * @example
 * const key = randomBytes(32);
 * try { use(key); } finally { zero(key); }
 */
export function zero(bytes: Uint8Array): void {
  forgetPrivateKey(bytes);
  bytes.fill(0);
}
