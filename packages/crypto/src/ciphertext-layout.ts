/**
 * Byte layout of Keyward ciphertexts (docs/formats.md). Internal: the public
 * entry points are in ciphertext.ts; this module also serves the golden-vector
 * tests, which need a fixed nonce.
 */
import { createHash } from 'node:crypto';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadEncrypt } from './aead.js';
import { asymmetricCiphertextBytes } from './asymmetric-encrypt.js';
import { toBase64url } from './base64url.js';
import { encodeContext } from './encode-context.js';
import { CryptoError } from './errors.js';

export type CiphertextAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305' | 'rsa-oaep-3072' | 'rsa-oaep-4096';

/** What a ciphertext names: the key, its version and the algorithm. */
export interface CiphertextHeader {
  /** The key's id, a UUID string (RFC 9562); stored as its 16 bytes, returned in lowercase. */
  keyId: string;
  /** Key version, 1 … 2^32 − 1. */
  keyVersion: number;
  algorithm: CiphertextAlgorithm;
}

/** Text prefix: names the format so a ciphertext is recognisable in a database column or a log. */
export const CIPHERTEXT_PREFIX = 'kw1:';
export const FORMAT_VERSION = 0x01;
/** format (1) ‖ algorithm (1) ‖ key id (16) ‖ key version (4, big-endian). */
export const HEADER_BYTES = 22;

export const ALGORITHM_IDS: Readonly<Record<CiphertextAlgorithm, number>> = {
  'aes-256-gcm': 0x01,
  'chacha20-poly1305': 0x02,
  'rsa-oaep-3072': 0x03,
  'rsa-oaep-4096': 0x04,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_U32 = 0xffff_ffff;

export function isAead(alg: CiphertextAlgorithm): alg is 'aes-256-gcm' | 'chacha20-poly1305' {
  return alg === 'aes-256-gcm' || alg === 'chacha20-poly1305';
}

/** Checks a header and encodes its 22 bytes; throws `CryptoError('invalid_input')` naming the bad field. */
export function encodeHeader(header: CiphertextHeader): Uint8Array {
  if (typeof header.keyId !== 'string' || !UUID.test(header.keyId)) throw new CryptoError('invalid_input', 'keyId must be a UUID');
  if (!Number.isInteger(header.keyVersion) || header.keyVersion < 1 || header.keyVersion > MAX_U32) {
    throw new CryptoError('invalid_input', 'keyVersion must be an integer from 1 to 2^32-1');
  }
  if (!Object.hasOwn(ALGORITHM_IDS, header.algorithm)) throw new CryptoError('invalid_input', 'algorithm cannot produce ciphertexts');
  const out = new Uint8Array(HEADER_BYTES);
  out[0] = FORMAT_VERSION;
  out[1] = ALGORITHM_IDS[header.algorithm];
  out.set(Buffer.from(header.keyId.replaceAll('-', ''), 'hex'), 2);
  new DataView(out.buffer).setUint32(18, header.keyVersion, false);
  return out;
}

/** Encoded headers by algorithm, version and key id (only valid ones: {@link encodeHeader} checked them first). */
const encodedHeaders = new Map<string, Uint8Array>();
/** Enough for every version in use on a busy node; past it the map starts over. */
const MAX_ENCODED_HEADERS = 4096;

/**
 * {@link encodeHeader}, remembered: every encryption under one key version
 * has the same header, and checking and encoding it cost more than a third
 * of the work around the AEAD. The bytes returned are shared: read them,
 * never write to them.
 */
export function sharedHeader(header: CiphertextHeader): Uint8Array {
  const { keyId, keyVersion, algorithm } = header;
  // Only well-typed fields are looked up, so no ill-typed header (keyVersion "1") finds a valid one's bytes.
  if (typeof keyId !== 'string' || typeof keyVersion !== 'number' || typeof algorithm !== 'string') return encodeHeader(header);
  const id = `${algorithm}\u0000${keyVersion}\u0000${keyId}`;
  let bytes = encodedHeaders.get(id);
  if (bytes === undefined) {
    bytes = encodeHeader(header);
    if (encodedHeaders.size >= MAX_ENCODED_HEADERS) encodedHeaders.clear();
    encodedHeaders.set(id, bytes);
  }
  return bytes;
}

/** Formats 16 bytes as a lowercase UUID string. */
export function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** AEAD associated data: the header bytes ‖ the canonical context. */
export function associatedData(headerBytes: Uint8Array, context: Record<string, string>): Uint8Array {
  return Buffer.concat([headerBytes, encodeContext(context)]);
}

/**
 * RSA-OAEP label: SHA-256(header ‖ canonical context), a fixed 32 bytes so
 * the label length never depends on the context (RFC 8017 §7.1.1 allows any label).
 */
export function oaepLabel(headerBytes: Uint8Array, context: Record<string, string>): Uint8Array {
  const digest = createHash('sha256').update(associatedData(headerBytes, context)).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** Text form: `kw1:` + unpadded base64url (RFC 4648 §5) of the bytes. */
export function toText(...parts: Uint8Array[]): string {
  return CIPHERTEXT_PREFIX + toBase64url(Buffer.concat(parts));
}

/**
 * AEAD ciphertext with an explicit nonce: header ‖ nonce ‖ ciphertext ‖ tag.
 * Only for known-answer tests; production code calls `encryptToCiphertext`,
 * which draws a fresh random nonce (NIST SP 800-38D §8.2.2). Reusing a nonce
 * under one key breaks both confidentiality and authenticity.
 */
export function sealAeadWithNonce(
  header: CiphertextHeader,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  context: Record<string, string>,
): string {
  if (!isAead(header.algorithm)) throw new CryptoError('invalid_input', 'algorithm is not an AEAD');
  return sealAead(header.algorithm, encodeHeader(header), key, nonce, plaintext, context);
}

/** {@link sealAeadWithNonce} for a header already checked and encoded by {@link encodeHeader}. */
export function sealAead(
  algorithm: 'aes-256-gcm' | 'chacha20-poly1305',
  headerBytes: Uint8Array,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  context: Record<string, string>,
): string {
  const sealed = aeadEncrypt(algorithm, key, nonce, plaintext, associatedData(headerBytes, context));
  return toText(headerBytes, nonce, sealed);
}

/** Exact or minimum length of what follows the header, per algorithm. */
export function bodyLengthOk(alg: CiphertextAlgorithm, rest: number): boolean {
  if (isAead(alg)) return rest >= AEAD_NONCE_BYTES + AEAD_TAG_BYTES;
  return rest === asymmetricCiphertextBytes(alg);
}
