import { createHash, createHmac } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { publicKeySpki } from './public-key.js';

const LABEL = 'keyward fingerprint v1';
const SYMMETRIC_FINGERPRINT_BYTES = 16;

/**
 * A non-secret identifier of a key version, stable for the version's life.
 *
 * - Asymmetric: `sha256:` + hex SHA-256 of the SubjectPublicKeyInfo DER
 *   (the same value `openssl pkey -pubout -outform DER | sha256sum` prints).
 * - Symmetric: `hmac-sha256:` + hex of the first 16 bytes of
 *   HMAC-SHA256(key = secret, message = "keyward fingerprint v1").
 *
 * Why the symmetric form does not leak the key: HMAC is a PRF (RFC 2104 §6,
 * Bellare 2006), so its output on a fixed public message is indistinguishable
 * from random to anyone without the key; the only use of the fingerprint to an
 * attacker is to test a guessed key, and Keyward keys are 256 or 512 random
 * bits, far beyond exhaustive search. Unlike a plain hash of the key, the
 * value is bound to a fixed label, so it cannot be matched against hashes of
 * keys taken elsewhere. Truncation to 128 bits keeps accidental collisions at
 * about 2^-64 for 2^32 versions. It is also a 128-bit MAC of the label under an
 * HMAC key, but Keyward verifies MACs only at full length (see verifyMac), so
 * it is no forgery.
 *
 * @example
 * fingerprint('aes-256-gcm', key); // "hmac-sha256:9f2c…" (32 hex digits)
 */
export function fingerprint(spec: AlgorithmName, secret: Uint8Array): string {
  const spki = publicKeySpki(spec, secret);
  if (spki !== null) return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
  const tag = createHmac('sha256', secret).update(LABEL, 'utf8').digest().subarray(0, SYMMETRIC_FINGERPRINT_BYTES);
  return `hmac-sha256:${tag.toString('hex')}`;
}
