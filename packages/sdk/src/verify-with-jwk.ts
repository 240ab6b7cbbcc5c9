import { constants, createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import type { CachedJwk } from './jwks-cache.js';

/**
 * Checks a signature Keyward made (`POST …/sign` with a `message`) against a
 * published JWK, locally, with the encodings of shared/API.md: Ed25519 raw
 * 64 bytes; ECDSA DER; RSA-PSS with SHA-256 (3072) or SHA-512 (4096) and a
 * salt as long as the hash; ML-DSA-65 per FIPS 204 (pure, empty context).
 * False for a wrong or malformed signature, never throws for one.
 */
export function verifyWithJwk(jwk: CachedJwk, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    switch (jwk.alg) {
      case 'EdDSA':
        return verify(null, message, publicKey(jwk), signature);
      case 'ES256':
        return verify('sha256', message, { key: publicKey(jwk), dsaEncoding: 'der' }, signature);
      case 'ES384':
        return verify('sha384', message, { key: publicKey(jwk), dsaEncoding: 'der' }, signature);
      case 'PS256':
        return verify('sha256', message, pss(jwk, 32), signature);
      case 'PS512':
        return verify('sha512', message, pss(jwk, 64), signature);
      case 'ML-DSA-65': {
        const pub = jwk.pub;
        if (typeof pub !== 'string') return false;
        return ml_dsa65.verify(signature, message, Buffer.from(pub, 'base64url'));
      }
      default:
        // RSA-OAEP-256 keys encrypt; they verify nothing.
        return false;
    }
  } catch {
    // A signature of the wrong length or a malformed DER: invalid, not an error (no oracle on why).
    return false;
  }
}

function publicKey(jwk: CachedJwk) {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

function pss(jwk: CachedJwk, saltLength: number) {
  return { key: publicKey(jwk), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
}
