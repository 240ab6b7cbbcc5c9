import type { AlgorithmName } from '@keyward/wire';
import { toBase64url } from './base64url.js';
import { mlDsa65PublicKey } from './ml-dsa-65.js';
import { mlDsa65PublicKeyFromSpki, mlDsa65Spki } from './ml-dsa-spki.js';
import { isClassical, privateKeyFor, publicKeyFor, spkiDer } from './node-keys.js';
import { derToPem, pemToDer } from './pem.js';

/**
 * SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7) of an asymmetric secret, or
 * null for symmetric algorithms. Throws `CryptoError('invalid_key')` when the
 * secret does not fit the algorithm.
 */
export function publicKeySpki(name: AlgorithmName, secret: Uint8Array): Uint8Array | null {
  if (name === 'ml-dsa-65') return mlDsa65Spki(mlDsa65PublicKey(secret));
  if (isClassical(name)) return spkiDer(privateKeyFor(name, secret));
  return null;
}

/**
 * The public key of a version as SPKI PEM (RFC 7468 §13), or null for
 * symmetric algorithms. ML-DSA-65 uses id-ml-dsa-65 (2.16.840.1.101.3.4.3.18).
 *
 * @example
 * const pem = publicKeyPem('ecdsa-p256', secret); // "-----BEGIN PUBLIC KEY-----\n…"
 */
export function publicKeyPem(name: AlgorithmName, secret: Uint8Array): string | null {
  const spki = publicKeySpki(name, secret);
  return spki === null ? null : derToPem('PUBLIC KEY', spki);
}

/**
 * The public key as a JWK (RFC 7517), or null for symmetric algorithms.
 * Classical keys: the JWK node:crypto exports (RFC 7518 §6 / RFC 8037 §2).
 * ML-DSA-65: `{ kty: 'AKP', alg: 'ML-DSA-65', pub }` per draft-ietf-cose-dilithium.
 */
export function publicJwk(name: AlgorithmName, secret: Uint8Array): Record<string, unknown> | null {
  if (name === 'ml-dsa-65') return { kty: 'AKP', alg: 'ML-DSA-65', pub: toBase64url(mlDsa65PublicKey(secret)) };
  if (!isClassical(name)) return null;
  const jwk: Record<string, unknown> = { ...privateKeyFor(name, secret).export({ format: 'jwk' }) };
  // Keep only public members: export of a private KeyObject includes d, p, q, ….
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) delete jwk[member];
  return jwk;
}

/**
 * The public JWK (RFC 7517) of a stored SPKI PEM public key, without the
 * secret: the same members {@link publicJwk} gives for the matching secret.
 * Null for symmetric algorithms; throws `CryptoError('invalid_key')` when the
 * PEM is not a public key of `name` (wrong type, curve or modulus size).
 *
 * @example
 * const jwk = publicJwkFromPem('ed25519', version.publicKey); // { kty: 'OKP', crv: 'Ed25519', x: '…' }
 */
export function publicJwkFromPem(name: AlgorithmName, pem: string): Record<string, unknown> | null {
  if (name === 'ml-dsa-65')
    return { kty: 'AKP', alg: 'ML-DSA-65', pub: toBase64url(mlDsa65PublicKeyFromSpki(pemToDer('PUBLIC KEY', pem))) };
  if (!isClassical(name)) return null;
  return { ...publicKeyFor(name, pem).export({ format: 'jwk' }) };
}
