import { KeywardError } from '@keyward/wire';
import { EnvelopeError } from './envelope-error.js';

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** A lone UTF-16 surrogate would encode as U+FFFD and make two contexts encode alike (formats.md §2). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The canonical encoding of an encryption context (docs/formats.md §2), the
 * same bytes the server binds: `u32(n) ‖ (u32(len) ‖ key ‖ u32(len) ‖ value)*`,
 * pairs sorted by the key's UTF-8 bytes.
 *
 * @example
 * encodeEnvelopeContext({ tenant: 'acme' }); // 00000001 00000006 74656e616e74 00000004 61636d65
 */
export function encodeEnvelopeContext(context: Readonly<Record<string, string>>): Buffer {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new KeywardError('invalid_request', 'context: must be an object of strings');
  }
  const pairs = Object.entries(context).map(([key, value]) => {
    if (typeof value !== 'string') throw new KeywardError('invalid_request', `context.${key}: must be a string`);
    if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
      throw new KeywardError('invalid_request', 'context: a key or value holds a lone UTF-16 surrogate');
    }
    return { key: Buffer.from(utf8.encode(key)), value: Buffer.from(utf8.encode(value)) };
  });
  pairs.sort((a, b) => Buffer.compare(a.key, b.key));
  const parts: Buffer[] = [u32(pairs.length)];
  for (const { key, value } of pairs) parts.push(u32(key.length), key, u32(value.length), value);
  return Buffer.concat(parts);
}

/**
 * Reads an encoded context back; anything but the canonical encoding of some
 * context (bad lengths, unsorted or repeated keys, invalid UTF-8, extra
 * bytes) is `malformed_header`, so one context has exactly one encoding.
 */
export function decodeEnvelopeContext(bytes: Buffer): Record<string, string> {
  const fail = (): never => {
    throw new EnvelopeError('malformed_header', 'envelope header: the encryption context is not canonically encoded');
  };
  if (bytes.length < 4) fail();
  const count = bytes.readUInt32BE(0);
  let offset = 4;
  const context: Record<string, string> = Object.create(null) as Record<string, string>;
  let previous: Buffer | undefined;
  const field = (): Buffer => {
    if (offset + 4 > bytes.length) fail();
    const length = bytes.readUInt32BE(offset);
    offset += 4;
    if (offset + length > bytes.length) fail();
    const value = bytes.subarray(offset, offset + length);
    offset += length;
    return value;
  };
  const text = (value: Buffer): string => {
    try {
      return strictUtf8.decode(value);
    } catch {
      return fail();
    }
  };
  for (let i = 0; i < count; i++) {
    const key = field();
    const value = field();
    if (previous !== undefined && Buffer.compare(previous, key) >= 0) fail();
    previous = key;
    context[text(key)] = text(value);
  }
  if (offset !== bytes.length) fail();
  return { ...context };
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}
