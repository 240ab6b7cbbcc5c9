import { createHash, createPrivateKey, createPublicKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { CryptoError } from './errors.js';
import { pemToDer } from './pem.js';

/** Asymmetric algorithms whose keys node:crypto (OpenSSL) holds as KeyObjects. */
export type ClassicalAlgorithm =
  | 'ed25519'
  | 'ecdsa-p256'
  | 'ecdsa-p384'
  | 'rsa-pss-3072'
  | 'rsa-pss-4096'
  | 'rsa-oaep-3072'
  | 'rsa-oaep-4096';

interface KeyShape {
  readonly type: 'ed25519' | 'ec' | 'rsa';
  /** OpenSSL curve name as reported by `asymmetricKeyDetails.namedCurve`. */
  readonly namedCurve?: string;
  readonly modulusLength?: number;
}

const SHAPES: Readonly<Record<ClassicalAlgorithm, KeyShape>> = {
  ed25519: { type: 'ed25519' },
  'ecdsa-p256': { type: 'ec', namedCurve: 'prime256v1' },
  'ecdsa-p384': { type: 'ec', namedCurve: 'secp384r1' },
  'rsa-pss-3072': { type: 'rsa', modulusLength: 3072 },
  'rsa-pss-4096': { type: 'rsa', modulusLength: 4096 },
  'rsa-oaep-3072': { type: 'rsa', modulusLength: 3072 },
  'rsa-oaep-4096': { type: 'rsa', modulusLength: 4096 },
};

export function isClassical(name: AlgorithmName): name is ClassicalAlgorithm {
  return Object.hasOwn(SHAPES, name);
}

function buffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws unless the key has exactly the type, curve and modulus size the algorithm demands. */
function checkShape(alg: ClassicalAlgorithm, key: KeyObject): KeyObject {
  const shape = SHAPES[alg];
  const details = key.asymmetricKeyDetails ?? {};
  const ok =
    key.asymmetricKeyType === shape.type &&
    (shape.namedCurve === undefined || details.namedCurve === shape.namedCurve) &&
    (shape.modulusLength === undefined || details.modulusLength === shape.modulusLength);
  if (!ok) throw new CryptoError('invalid_key', `key does not match ${alg}`);
  return key;
}

/** Loads a PKCS#8 DER secret (RFC 5208) and checks that it fits `alg`; throws `CryptoError('invalid_key')`. */
/** A KeyObject parsed from a secret, with the algorithm it was checked for and the secret's digest then. */
interface Parsed {
  alg: ClassicalAlgorithm;
  digest: Buffer;
  key: KeyObject;
}

/**
 * KeyObjects parsed from PKCS#8 secrets, by the secret array's identity.
 * OpenSSL 3 takes 100–500 µs to decode a PKCS#8 key, far more than an
 * Ed25519 or ECDSA signature, and the server hands the same cached array
 * for a version until it evicts it. An entry goes when its array is
 * garbage-collected or {@link forgetPrivateKey} is called (the server does
 * so whenever it zeroes a secret); an array whose bytes changed since is
 * parsed again (the digest no longer matches), never served a stale key.
 */
const parsed = new WeakMap<Uint8Array, Parsed>();

function digestOf(secret: Uint8Array): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function privateKeyFor(alg: ClassicalAlgorithm, secret: Uint8Array): KeyObject {
  const digest = digestOf(secret);
  const hit = parsed.get(secret);
  if (hit !== undefined && hit.alg === alg && timingSafeEqual(hit.digest, digest)) return hit.key;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: buffer(secret), format: 'der', type: 'pkcs8' });
  } catch {
    throw new CryptoError('invalid_key', `secret is not a PKCS#8 ${alg} key`);
  }
  checkShape(alg, key);
  parsed.set(secret, { alg, digest, key });
  return key;
}

/**
 * Drops the KeyObject parsed from `secret`, if any: call it when the secret
 * is zeroed or discarded, so the parsed copy is no longer reachable either
 * (OpenSSL clears its private key memory when the object is collected).
 */
export function forgetPrivateKey(secret: Uint8Array): void {
  parsed.delete(secret);
}

/** Loads an SPKI public key (PEM string, or DER bytes) and checks that it fits `alg`; throws `CryptoError('invalid_key')`. */
export function publicKeyFor(alg: ClassicalAlgorithm, spki: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    const der = typeof spki === 'string' ? pemToDer('PUBLIC KEY', spki) : spki;
    key = createPublicKey({ key: buffer(der), format: 'der', type: 'spki' });
  } catch {
    throw new CryptoError('invalid_key', `not an SPKI ${alg} public key`);
  }
  if (key.type !== 'public') throw new CryptoError('invalid_key', `not an SPKI ${alg} public key`);
  return checkShape(alg, key);
}

/** SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7) of a private or public KeyObject. */
export function spkiDer(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}

/**
 * The key to encrypt to: an SPKI PEM string, a PKCS#8 DER secret, or SPKI DER
 * bytes. Throws `CryptoError('invalid_key')` if none fits `alg`.
 */
export function encryptionKeyFor(alg: ClassicalAlgorithm, key: string | Uint8Array): KeyObject {
  if (typeof key === 'string') return publicKeyFor(alg, key);
  try {
    return privateKeyFor(alg, key);
  } catch {
    return publicKeyFor(alg, key);
  }
}
