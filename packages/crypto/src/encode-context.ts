import { CryptoError } from './errors.js';

/** A lone UTF-16 surrogate: TextEncoder would turn it into U+FFFD, making two contexts encode alike. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_U32 = 0xffff_ffff;

function utf8(text: unknown, what: string): Uint8Array {
  if (typeof text !== 'string') throw new CryptoError('invalid_input', `context ${what} must be a string`);
  if (LONE_SURROGATE.test(text)) throw new CryptoError('invalid_input', `context ${what} must be well-formed Unicode`);
  return Buffer.from(text, 'utf8');
}

function u32(value: number): Uint8Array {
  if (value > MAX_U32) throw new CryptoError('invalid_input', 'context too large');
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

/**
 * Canonical encoding of an encryption context, bound as associated data:
 *
 *     u32be(n) ‖ for each pair, in order of the key's UTF-8 bytes:
 *       u32be(len(key)) ‖ key ‖ u32be(len(value)) ‖ value
 *
 * Keys and values are UTF-8. Every field is length-prefixed, so no two
 * different contexts share an encoding (e.g. {"a":"bc"} vs {"ab":"c"}), and
 * sorting by bytes makes it independent of key order. Lone surrogates are
 * rejected, not replaced. See docs/formats.md.
 *
 * @example
 * encodeContext({}); // 00000000
 * @throws CryptoError('invalid_input') for non-string values or ill-formed strings.
 */
export function encodeContext(context: Record<string, string>): Uint8Array {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new CryptoError('invalid_input', 'context must be an object of strings');
  }
  const pairs = Object.entries(context).map(([key, value]) => ({ key: utf8(key, 'key'), value: utf8(value, 'value') }));
  pairs.sort((a, b) => Buffer.compare(a.key, b.key));
  const parts: Uint8Array[] = [u32(pairs.length)];
  for (const { key, value } of pairs) parts.push(u32(key.length), key, u32(value.length), value);
  const out = Buffer.concat(parts);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
