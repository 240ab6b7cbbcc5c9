import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { CryptoError } from './errors.js';
import { ML_DSA_65_PUBLIC_KEY_BYTES } from './ml-dsa-spki.js';

/** ML-DSA key generation seed ξ (FIPS 204 Algorithm 1, 32 bytes): Keyward stores this, not the expanded key. */
export const ML_DSA_65_SEED_BYTES = 32;

function keypair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (seed.length !== ML_DSA_65_SEED_BYTES) throw new CryptoError('invalid_key', 'ML-DSA-65 secret must be a 32-byte seed');
  return ml_dsa65.keygen(seed);
}

/** Public key of a seed (FIPS 204 Algorithm 6, ML-DSA.KeyGen_internal). */
export function mlDsa65PublicKey(seed: Uint8Array): Uint8Array {
  return keypair(seed).publicKey;
}

/**
 * ML-DSA-65 signature, FIPS 204 Algorithm 2 (ML-DSA.Sign, pure, empty
 * context). `rnd` defaults to fresh randomness (the hedged variant FIPS 204
 * §3.4 recommends); tests pass `false` (deterministic, rnd = 0³²) or fixed
 * bytes to reproduce published vectors.
 */
export function mlDsa65Sign(seed: Uint8Array, message: Uint8Array, rnd?: Uint8Array | false): Uint8Array {
  const { secretKey } = keypair(seed);
  return rnd === undefined ? ml_dsa65.sign(message, secretKey) : ml_dsa65.sign(message, secretKey, { extraEntropy: rnd });
}

/** FIPS 204 Algorithm 3 (ML-DSA.Verify, empty context). False for any malformed input, never throws. */
export function mlDsa65Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ML_DSA_65_PUBLIC_KEY_BYTES) return false;
  try {
    return ml_dsa65.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}
