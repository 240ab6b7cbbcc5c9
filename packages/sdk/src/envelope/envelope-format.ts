import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import { decodeEnvelopeContext, encodeEnvelopeContext } from './envelope-context.js';
import { EnvelopeError } from './envelope-error.js';

/** "KWEN": the first bytes of every envelope (docs/formats.md §11). */
export const ENVELOPE_MAGIC = Buffer.from('4b57454e', 'hex');
/** Format version 1. */
export const ENVELOPE_VERSION = 0x01;
/** Suite 1: HKDF-SHA-256 message keys, HMAC-SHA-256 header tag, AES-256-GCM frames. */
export const ENVELOPE_SUITE = 0x01;
export const MESSAGE_ID_BYTES = 16;
export const DATA_KEY_BYTES = 32;
export const HEADER_TAG_BYTES = 32;
export const FRAME_TAG_BYTES = 16;
/** Bytes before a regular frame's ciphertext: kind (1) ‖ sequence (4). */
export const FRAME_PREFIX_BYTES = 5;
/** Bytes before a final frame's ciphertext: kind (1) ‖ sequence (4) ‖ length (4). */
export const FINAL_PREFIX_BYTES = 9;
export const FRAME_REGULAR = 0x00;
export const FRAME_FINAL = 0x01;
export const DEFAULT_FRAME_SIZE = 64 * 1024;
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;
export const MAX_WRAPPED_KEY_BYTES = 4096;
export const MAX_CONTEXT_BYTES = 65_536;
/** Frame sequence numbers are u32: at most 2³² frames in one message. */
export const MAX_FRAMES = 2 ** 32;
/** HKDF info of suite 1 (RFC 5869 §2.3). */
const KDF_INFO = Buffer.from('keyward envelope v1', 'ascii');
/** Key names as API.md allows them. */
const KEY_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
/** The text form of a Keyward ciphertext (formats.md §1.1). */
const WRAPPED_KEY = /^kw1:[A-Za-z0-9_-]+$/;
/** Magic, version, suite, message id, frame size. */
const FIXED_BYTES = 4 + 1 + 1 + MESSAGE_ID_BYTES + 4;

/** What the header says, as the writer set it and the reader parsed it. */
export interface EnvelopeHeaderFields {
  /** Name of the Keyward key the data key is wrapped under. */
  keyName: string;
  /** The data key wrapped under that key: a `kw1:` ciphertext naming the key version. */
  wrappedKey: string;
  /** The encryption context: bound to the wrapped data key by the server and to every frame here. */
  context: Readonly<Record<string, string>>;
  /** Plaintext bytes in each regular frame, 1 … 16 MiB. */
  frameSize: number;
  /** 16 random bytes, unique per message; the salt of the message keys. */
  messageId: Uint8Array;
}

/** A parsed header: its fields, its exact bytes and where the frames begin. */
export interface ParsedEnvelopeHeader extends EnvelopeHeaderFields {
  /** The header bytes before the tag (what the tag covers). */
  body: Buffer;
  /** The 32-byte header tag as read. */
  tag: Buffer;
  /** Length of the whole header, tag included. */
  length: number;
}

/** The keys one message is sealed with, derived from its data key and message id. */
export interface MessageKeys {
  frameKey: Buffer;
  headerKey: Buffer;
}

/**
 * Derives the per-message keys (formats.md §11.3): HKDF-SHA-256 (RFC 5869)
 * with the data key as input keying material and the message id as salt, so
 * a data key shared by many messages (the cache) never repeats a
 * (key, nonce) pair even though frame nonces are counters.
 */
export function deriveMessageKeys(dataKey: Uint8Array, messageId: Uint8Array): MessageKeys {
  if (dataKey.length !== DATA_KEY_BYTES) throw new KeywardError('internal', `the data key is not ${DATA_KEY_BYTES} bytes`);
  const okm = Buffer.from(hkdfSync('sha256', dataKey, messageId, KDF_INFO, 64));
  return { frameKey: okm.subarray(0, 32), headerKey: okm.subarray(32, 64) };
}

/** Zeroes derived keys once a message is done with them. */
export function wipeMessageKeys(keys: MessageKeys): void {
  keys.frameKey.fill(0);
  keys.headerKey.fill(0);
}

/**
 * The header bytes before the tag (formats.md §11.2), after checking every
 * field the way a reader will.
 */
export function encodeHeaderBody(fields: EnvelopeHeaderFields): Buffer {
  checkSealOptions(fields.keyName, fields.frameSize);
  if (fields.messageId.length !== MESSAGE_ID_BYTES) throw new KeywardError('internal', 'the message id is not 16 bytes');
  if (!WRAPPED_KEY.test(fields.wrappedKey) || fields.wrappedKey.length > MAX_WRAPPED_KEY_BYTES) {
    throw new KeywardError('internal', 'the server answered a data key ciphertext that is not a kw1: ciphertext');
  }
  const context = encodeEnvelopeContext(fields.context);
  if (context.length > MAX_CONTEXT_BYTES)
    throw new KeywardError('invalid_request', `context: encodes to more than ${MAX_CONTEXT_BYTES} bytes`);
  const fixed = Buffer.alloc(FIXED_BYTES);
  ENVELOPE_MAGIC.copy(fixed, 0);
  fixed[4] = ENVELOPE_VERSION;
  fixed[5] = ENVELOPE_SUITE;
  fixed.set(fields.messageId, 6);
  fixed.writeUInt32BE(fields.frameSize, 6 + MESSAGE_ID_BYTES);
  const name = Buffer.from(fields.keyName, 'ascii');
  const wrapped = Buffer.from(fields.wrappedKey, 'ascii');
  return Buffer.concat([fixed, u8(name.length), name, u16(wrapped.length), wrapped, u32(context.length), context]);
}

/** Refuses a key name or frame size a header cannot hold (`invalid_request`, naming the field). */
export function checkSealOptions(keyName: string, frameSize: number): void {
  if (typeof keyName !== 'string' || !KEY_NAME.test(keyName)) throw new KeywardError('invalid_request', 'key: not a valid key name');
  checkFrameSize(frameSize, (message) => new KeywardError('invalid_request', `frameSize: ${message}`));
}

/** HMAC-SHA-256 of the header body under the message's header key. */
export function headerTag(body: Uint8Array, keys: MessageKeys): Buffer {
  return createHmac('sha256', keys.headerKey).update(body).digest();
}

/** Checks the header tag in constant time; `header_tampered` if it does not verify. */
export function verifyHeaderTag(header: ParsedEnvelopeHeader, keys: MessageKeys): void {
  if (!timingSafeEqual(headerTag(header.body, keys), header.tag)) {
    throw new EnvelopeError('header_tampered', 'envelope header: the header tag does not verify');
  }
}

/** SHA-256 of the whole header, tag included: bound into every frame's associated data. */
export function headerDigest(body: Uint8Array, tag: Uint8Array): Buffer {
  return createHash('sha256').update(body).update(tag).digest();
}

/**
 * Parses a header from the start of `bytes`; `undefined` while more bytes
 * are needed. Throws `not_envelope`, `unsupported_version` or
 * `malformed_header` as soon as the bytes seen settle it.
 */
export function parseHeader(bytes: Buffer): ParsedEnvelopeHeader | undefined {
  const seen = Math.min(bytes.length, 4);
  if (!bytes.subarray(0, seen).equals(ENVELOPE_MAGIC.subarray(0, seen))) {
    throw new EnvelopeError('not_envelope', 'not a Keyward envelope (the magic bytes are wrong)');
  }
  if (bytes.length > 4 && bytes[4] !== ENVELOPE_VERSION) throw new EnvelopeError('unsupported_version', 'envelope: unknown format version');
  if (bytes.length > 5 && bytes[5] !== ENVELOPE_SUITE) throw new EnvelopeError('unsupported_version', 'envelope: unknown suite');
  if (bytes.length < FIXED_BYTES + 1) return undefined;
  const messageId = Buffer.from(bytes.subarray(6, 6 + MESSAGE_ID_BYTES));
  const frameSize = bytes.readUInt32BE(6 + MESSAGE_ID_BYTES);
  checkFrameSize(frameSize, (message) => new EnvelopeError('malformed_header', `envelope header: frame size ${message}`));
  let offset = FIXED_BYTES;
  const nameLength = bytes[offset] ?? 0;
  offset += 1;
  if (bytes.length < offset + nameLength) return undefined;
  const keyName = bytes.subarray(offset, offset + nameLength).toString('latin1');
  if (!KEY_NAME.test(keyName)) throw new EnvelopeError('malformed_header', 'envelope header: the key name is not a valid key name');
  offset += nameLength;
  if (bytes.length < offset + 2) return undefined;
  const wrappedLength = bytes.readUInt16BE(offset);
  offset += 2;
  if (wrappedLength > MAX_WRAPPED_KEY_BYTES)
    throw new EnvelopeError('malformed_header', 'envelope header: the wrapped data key is too long');
  if (bytes.length < offset + wrappedLength) return undefined;
  const wrappedKey = bytes.subarray(offset, offset + wrappedLength).toString('latin1');
  if (!WRAPPED_KEY.test(wrappedKey))
    throw new EnvelopeError('malformed_header', 'envelope header: the wrapped data key is not a kw1: ciphertext');
  offset += wrappedLength;
  if (bytes.length < offset + 4) return undefined;
  const contextLength = bytes.readUInt32BE(offset);
  offset += 4;
  if (contextLength > MAX_CONTEXT_BYTES) throw new EnvelopeError('malformed_header', 'envelope header: the encryption context is too long');
  if (bytes.length < offset + contextLength + HEADER_TAG_BYTES) return undefined;
  const context = decodeEnvelopeContext(bytes.subarray(offset, offset + contextLength));
  offset += contextLength;
  const body = Buffer.from(bytes.subarray(0, offset));
  const tag = Buffer.from(bytes.subarray(offset, offset + HEADER_TAG_BYTES));
  return { keyName, wrappedKey, context, frameSize, messageId, body, tag, length: offset + HEADER_TAG_BYTES };
}

/** The most header bytes a reader buffers before it must have a whole header. */
export const MAX_HEADER_BYTES = FIXED_BYTES + 1 + 128 + 2 + MAX_WRAPPED_KEY_BYTES + 4 + MAX_CONTEXT_BYTES + HEADER_TAG_BYTES;

/** The 12-byte GCM nonce of frame `sequence`: 8 zero bytes ‖ u32(sequence). */
export function frameNonce(sequence: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(sequence, 8);
  return nonce;
}

/** A frame's associated data: SHA-256(header) ‖ u32(sequence) ‖ u8(kind). */
export function frameAad(digest: Buffer, sequence: number, kind: number): Buffer {
  const aad = Buffer.alloc(32 + 5);
  digest.copy(aad, 0);
  aad.writeUInt32BE(sequence, 32);
  aad[36] = kind;
  return aad;
}

function checkFrameSize(frameSize: number, error: (message: string) => Error): void {
  if (!Number.isSafeInteger(frameSize) || frameSize < 1 || frameSize > MAX_FRAME_SIZE) {
    throw error(`must be an integer from 1 to ${MAX_FRAME_SIZE}`);
  }
}

function u8(value: number): Buffer {
  return Buffer.from([value]);
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}
