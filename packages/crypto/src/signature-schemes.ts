import { constants, type KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { p256, p384 } from '@noble/curves/nist.js';
import { fromBase64urlStrict } from './base64url.js';
import { CryptoError } from './errors.js';

/** Signature algorithms implemented by node:crypto. */
export type ClassicalSignatureAlgorithm = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-pss-3072' | 'rsa-pss-4096';
export type SignatureAlgorithm = ClassicalSignatureAlgorithm | 'ml-dsa-65';

/** Either the message itself, or (ECDSA only) its digest computed by the caller. */
export type SignInput = { message: Uint8Array } | { digest: Uint8Array };

const SIGNATURE_ALGORITHMS: readonly string[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072', 'rsa-pss-4096', 'ml-dsa-65'];

export function isSignatureAlgorithm(alg: AlgorithmName): alg is SignatureAlgorithm {
  return SIGNATURE_ALGORITHMS.includes(alg);
}

interface NodeParams {
  /** Digest name for node:crypto; null for Ed25519, which hashes internally (RFC 8032 §5.1.6). */
  readonly hash: string | null;
  readonly options: { dsaEncoding?: 'der'; padding?: number; saltLength?: number };
}

/**
 * API.md encodings. ECDSA: ASN.1 DER (RFC 3279 §2.2.3, SEC 1), P-256 with
 * SHA-256, P-384 with SHA-384 (FIPS 186-5). RSA-PSS (RFC 8017 §8.1): MGF1 with
 * the message hash, salt length = hash length (RFC 8017 §9.1 note 4).
 */
const NODE_PARAMS: Readonly<Record<ClassicalSignatureAlgorithm, NodeParams>> = {
  ed25519: { hash: null, options: {} },
  'ecdsa-p256': { hash: 'sha256', options: { dsaEncoding: 'der' } },
  'ecdsa-p384': { hash: 'sha384', options: { dsaEncoding: 'der' } },
  'rsa-pss-3072': { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  'rsa-pss-4096': { hash: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 } },
};

/** Signs a message with node:crypto (OpenSSL). */
export function signMessageClassical(alg: ClassicalSignatureAlgorithm, key: KeyObject, message: Uint8Array): Uint8Array {
  const { hash, options } = NODE_PARAMS[alg];
  const signature = nodeSign(hash, message, { key, ...options });
  return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
}

/** Verifies with node:crypto; any malformed signature is `false`, never an exception. */
export function verifyMessageClassical(
  alg: ClassicalSignatureAlgorithm,
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const { hash, options } = NODE_PARAMS[alg];
  try {
    return nodeVerify(hash, message, { key, ...options }, signature);
  } catch {
    return false;
  }
}

const DIGEST_CURVES = {
  'ecdsa-p256': { curve: p256, digestBytes: 32 },
  'ecdsa-p384': { curve: p384, digestBytes: 48 },
} as const;

type DigestAlgorithm = keyof typeof DIGEST_CURVES;

/**
 * Checks that `alg` may sign a caller-computed digest and that the digest has
 * the length of its hash (SHA-256: 32, SHA-384: 48 bytes).
 */
export function digestCurve(alg: SignatureAlgorithm, digest: Uint8Array): (typeof DIGEST_CURVES)[DigestAlgorithm] {
  if (alg !== 'ecdsa-p256' && alg !== 'ecdsa-p384') throw new CryptoError('unsupported', `${alg} signs messages, not digests`);
  const entry = DIGEST_CURVES[alg];
  if (digest.length !== entry.digestBytes) throw new CryptoError('invalid_input', `digest must be ${entry.digestBytes} bytes for ${alg}`);
  return entry;
}

function jwkBytes(value: unknown): Uint8Array {
  if (typeof value !== 'string') throw new CryptoError('invalid_key', 'EC key is missing a coordinate');
  return fromBase64urlStrict(value, 'invalid_key', 'EC key has a malformed coordinate');
}

/**
 * ECDSA over a caller-supplied digest (FIPS 186-5 §6.4.1 from step 2 on).
 * node:crypto always hashes, so this uses @noble/curves with prehash off;
 * nonces are RFC 6979 deterministic, output is DER like the message path.
 */
export function signDigestEcdsa(alg: SignatureAlgorithm, key: KeyObject, digest: Uint8Array): Uint8Array {
  const { curve } = digestCurve(alg, digest);
  const scalar = jwkBytes(key.export({ format: 'jwk' }).d);
  return curve.sign(digest, scalar, { prehash: false, format: 'der' });
}

/** Verifies a DER ECDSA signature over a digest; false for anything malformed. High-S is accepted, as OpenSSL does. */
export function verifyDigestEcdsa(alg: SignatureAlgorithm, key: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const { curve } = digestCurve(alg, digest);
  const jwk = key.export({ format: 'jwk' });
  // SEC 1 §2.3.3 uncompressed point: 0x04 ‖ X ‖ Y.
  const point = Buffer.concat([Uint8Array.of(0x04), jwkBytes(jwk.x), jwkBytes(jwk.y)]);
  try {
    return curve.verify(signature, digest, point, { prehash: false, format: 'der', lowS: false });
  } catch {
    return false;
  }
}

/**
 * An ECDSA signature made elsewhere (an HSM's `CKM_ECDSA` answers `r ‖ s`,
 * PKCS#11 v2.40 curr. §2.3.1) in the DER encoding Keyward returns everywhere
 * (RFC 3279 §2.2.3 Ecdsa-Sig-Value). Re-encoding only, no key involved.
 *
 * @example
 * const der = ecdsaCompactToDer('ecdsa-p256', tokenSignature);
 * @throws CryptoError `invalid_input` when `compact` is not `r ‖ s` of the curve's size with r, s in range.
 */
export function ecdsaCompactToDer(alg: 'ecdsa-p256' | 'ecdsa-p384', compact: Uint8Array): Uint8Array {
  const curve = DIGEST_CURVES[alg].curve;
  try {
    return curve.Signature.fromBytes(compact, 'compact').toBytes('der');
  } catch {
    throw new CryptoError('invalid_input', `not an ${alg} signature in r ‖ s form`);
  }
}
