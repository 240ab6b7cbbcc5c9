import type { KeyObject } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { CryptoError } from './errors.js';
import { mlDsa65PublicKey, mlDsa65Sign, mlDsa65Verify } from './ml-dsa-65.js';
import { mlDsa65PublicKeyFromSpki } from './ml-dsa-spki.js';
import { privateKeyFor, publicKeyFor } from './node-keys.js';
import { pemToDer } from './pem.js';
import {
  type ClassicalSignatureAlgorithm,
  digestCurve,
  isSignatureAlgorithm,
  type SignatureAlgorithm,
  type SignInput,
  signDigestEcdsa,
  signMessageClassical,
  verifyDigestEcdsa,
  verifyMessageClassical,
} from './signature-schemes.js';

export type { SignInput } from './signature-schemes.js';

function signatureAlgorithm(alg: AlgorithmName): SignatureAlgorithm {
  if (!isSignatureAlgorithm(alg)) throw new CryptoError('unsupported', `${alg} does not sign`);
  return alg;
}

/**
 * Signs a message (or, for ECDSA, a digest) with a version's secret.
 * Encodings (API.md): Ed25519 raw 64 bytes (RFC 8032 §5.1.6); ECDSA DER with
 * SHA-256 / SHA-384 (FIPS 186-5); RSA-PSS SHA-256/salt 32 (3072) and
 * SHA-512/salt 64 (4096) (RFC 8017 §8.1); ML-DSA-65 pure, empty context,
 * hedged (FIPS 204 Algorithm 2).
 *
 * @example
 * const signature = sign('ed25519', secret, { message: bytes });
 * @throws CryptoError `unsupported` (not a signing algorithm, or a digest for
 *   anything but ECDSA), `invalid_input` (digest of the wrong length),
 *   `invalid_key` (secret does not fit the algorithm).
 */
export function sign(alg: AlgorithmName, secret: Uint8Array, input: SignInput): Uint8Array {
  const scheme = signatureAlgorithm(alg);
  if ('digest' in input) digestCurve(scheme, input.digest); // reject unsupported or ill-sized digests before touching the key
  if (scheme === 'ml-dsa-65') return mlDsa65Sign(secret, messageOf(scheme, input));
  const key = privateKeyFor(scheme, secret);
  if ('digest' in input) return signDigestEcdsa(scheme, key, input.digest);
  return signMessageClassical(scheme, key, input.message);
}

function messageOf(alg: SignatureAlgorithm, input: SignInput): Uint8Array {
  if ('digest' in input) throw new CryptoError('unsupported', `${alg} signs messages, not digests`);
  return input.message;
}

function verifyClassical(alg: ClassicalSignatureAlgorithm, key: KeyObject, input: SignInput, signature: Uint8Array): boolean {
  if ('digest' in input) return verifyDigestEcdsa(alg, key, input.digest, signature);
  return verifyMessageClassical(alg, key, input.message, signature);
}

/**
 * Verifies a signature with the public half of a version's secret. Returns
 * false for a wrong or malformed signature, never throws for one; throws
 * `CryptoError` only for the caller's errors (as {@link sign}).
 *
 * @example
 * if (!verify('ecdsa-p256', secret, { digest }, signature)) reject();
 */
export function verify(alg: AlgorithmName, secret: Uint8Array, input: SignInput, signature: Uint8Array): boolean {
  const scheme = signatureAlgorithm(alg);
  if ('digest' in input) digestCurve(scheme, input.digest);
  if (scheme === 'ml-dsa-65') return mlDsa65Verify(mlDsa65PublicKey(secret), messageOf(scheme, input), signature);
  return verifyClassical(scheme, privateKeyFor(scheme, secret), input, signature);
}

/**
 * Verifies a signature with an SPKI PEM public key (RFC 7468 §13), as
 * returned by the `public-key` operation. Same encodings and same contract as
 * {@link verify}; a PEM that is not a key of `alg` throws `CryptoError('invalid_key')`.
 */
export function verifyWithPublicKey(alg: AlgorithmName, publicKeyPem: string, input: SignInput, signature: Uint8Array): boolean {
  const scheme = signatureAlgorithm(alg);
  if ('digest' in input) digestCurve(scheme, input.digest);
  if (scheme === 'ml-dsa-65') {
    const publicKey = mlDsa65PublicKeyFromSpki(pemToDer('PUBLIC KEY', publicKeyPem));
    return mlDsa65Verify(publicKey, messageOf(scheme, input), signature);
  }
  return verifyClassical(scheme, publicKeyFor(scheme, publicKeyPem), input, signature);
}
