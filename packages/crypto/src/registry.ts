import { generateKeyPairSync } from 'node:crypto';
import { ALGORITHMS, type AlgorithmName, type KeyUsage } from '@keyward/wire';
import { randomBytes } from './aead.js';
import { CryptoError } from './errors.js';
import { ML_DSA_65_SEED_BYTES } from './ml-dsa-65.js';
import { publicKeyPem } from './public-key.js';

/** A fresh key version: the secret to seal, and the public key (SPKI PEM) for asymmetric algorithms. */
export interface GeneratedKey {
  secret: Uint8Array;
  publicKeyPem: string | null;
}

/** One entry of the algorithm registry (DESIGN.md: name, usage, key generation, safe-use limit). */
export interface AlgorithmSpec {
  readonly name: AlgorithmName;
  readonly usage: KeyUsage;
  readonly asymmetric: boolean;
  /** Max operations per key version before it must rotate (NIST SP 800-38D §8.3: 2**32 for random-nonce AES-GCM), or null. */
  readonly safeUseLimit: number | null;
  /** Length of a symmetric key's secret (what BYOK import must supply); null for asymmetric algorithms. */
  readonly secretBytes: number | null;
  generate(): GeneratedKey;
}

/**
 * NIST SP 800-38D §8.3: with random 96-bit IVs, at most 2^32 invocations per
 * key. ChaCha20-Poly1305 (RFC 8439) with random 96-bit nonces has the same
 * birthday bound on nonce collision, so Keyward applies the same ceiling
 * (draft-irtf-cfrg-aead-limits §5).
 */
const RANDOM_NONCE_LIMIT = 2 ** 32;

function symmetric(name: AlgorithmName, usage: KeyUsage, bytes: number, safeUseLimit: number | null): AlgorithmSpec {
  return Object.freeze({
    name,
    usage,
    asymmetric: false,
    safeUseLimit,
    secretBytes: bytes,
    generate: (): GeneratedKey => ({ secret: randomBytes(bytes), publicKeyPem: null }),
  });
}

type NodeKeyParams =
  | { readonly type: 'ed25519' }
  | { readonly type: 'ec'; readonly namedCurve: 'P-256' | 'P-384' }
  | { readonly type: 'rsa'; readonly modulusLength: 3072 | 4096 };

function pkcs8(params: NodeKeyParams): Uint8Array {
  const { privateKey } =
    params.type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : params.type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: params.namedCurve })
        : generateKeyPairSync('rsa', { modulusLength: params.modulusLength, publicExponent: 0x10001 });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}

function classical(name: AlgorithmName, usage: KeyUsage, params: NodeKeyParams): AlgorithmSpec {
  return Object.freeze({
    name,
    usage,
    asymmetric: true,
    safeUseLimit: null,
    secretBytes: null,
    generate(): GeneratedKey {
      const secret = pkcs8(params);
      return { secret, publicKeyPem: publicKeyPem(name, secret) };
    },
  });
}

const REGISTRY: Readonly<Record<AlgorithmName, AlgorithmSpec>> = Object.freeze({
  'aes-256-gcm': symmetric('aes-256-gcm', 'encrypt', 32, RANDOM_NONCE_LIMIT),
  'chacha20-poly1305': symmetric('chacha20-poly1305', 'encrypt', 32, RANDOM_NONCE_LIMIT),
  // RFC 2104 §3: keys of hash-output length; no use limit for a PRF-based MAC.
  'hmac-sha256': symmetric('hmac-sha256', 'mac', 32, null),
  'hmac-sha512': symmetric('hmac-sha512', 'mac', 64, null),
  ed25519: classical('ed25519', 'sign', { type: 'ed25519' }),
  'ecdsa-p256': classical('ecdsa-p256', 'sign', { type: 'ec', namedCurve: 'P-256' }),
  'ecdsa-p384': classical('ecdsa-p384', 'sign', { type: 'ec', namedCurve: 'P-384' }),
  'rsa-pss-3072': classical('rsa-pss-3072', 'sign', { type: 'rsa', modulusLength: 3072 }),
  'rsa-pss-4096': classical('rsa-pss-4096', 'sign', { type: 'rsa', modulusLength: 4096 }),
  'ml-dsa-65': Object.freeze({
    name: 'ml-dsa-65',
    usage: 'sign',
    asymmetric: true,
    safeUseLimit: null,
    secretBytes: null,
    generate(): GeneratedKey {
      // FIPS 204 Algorithm 1: the 32-byte seed ξ determines the key pair.
      const secret = randomBytes(ML_DSA_65_SEED_BYTES);
      return { secret, publicKeyPem: publicKeyPem('ml-dsa-65', secret) };
    },
  }),
  'rsa-oaep-3072': classical('rsa-oaep-3072', 'encrypt', { type: 'rsa', modulusLength: 3072 }),
  'rsa-oaep-4096': classical('rsa-oaep-4096', 'encrypt', { type: 'rsa', modulusLength: 4096 }),
});

/** True when `value` is one of the algorithm names of API.md. */
export function isAlgorithmName(value: unknown): value is AlgorithmName {
  return typeof value === 'string' && (ALGORITHMS as readonly string[]).includes(value);
}

/**
 * The registry entry of an algorithm.
 *
 * @example
 * const { secret, publicKeyPem } = getAlgorithm('ed25519').generate();
 * @throws CryptoError('unsupported') for a name outside the registry (a caller that skipped {@link isAlgorithmName}).
 */
export function getAlgorithm(name: AlgorithmName): AlgorithmSpec {
  if (!isAlgorithmName(name)) throw new CryptoError('unsupported', 'unknown algorithm');
  return REGISTRY[name];
}
