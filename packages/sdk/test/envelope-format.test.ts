import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decryptCiphertext, parseCiphertext } from '@keyward/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEnvelopeContext } from '../src/envelope/envelope-context.js';
import { EnvelopeError, type EnvelopeErrorReason, EnvelopeOpener, EnvelopeSealer, parseEnvelopeHeader } from '../src/index.js';

interface Vectors {
  wrappingKey: { key: string; keyId: string; keyVersion: number };
  dataKey: string;
  keyName: string;
  wrappedKey: string;
  context: Record<string, string>;
  frameSize: number;
  messageId: string;
  frameKey: string;
  headerKey: string;
  header: string;
  cases: Array<{ name: string; plaintext: string; envelope: string }>;
}

const vectors = JSON.parse(readFileSync(new URL('../../../docs/vectors/envelope-v1.json', import.meta.url), 'utf8')) as Vectors;
const hex = (text: string) => Buffer.from(text, 'hex');
const FRAME = 16;

function fieldsOf(overrides: Partial<{ context: Record<string, string>; frameSize: number; messageId: Uint8Array }> = {}) {
  return {
    keyName: 'k1',
    wrappedKey: 'kw1:AQE_JQTgT4lB05oMAwXoLDMBAAAAAQ',
    context: { tenant: 'acme' },
    frameSize: FRAME,
    messageId: randomBytes(16),
    ...overrides,
  };
}

function seal(plaintext: Uint8Array, dataKey: Buffer, fields = fieldsOf(), chunk = plaintext.length || 1): Buffer {
  const sealer = new EnvelopeSealer(fields, dataKey);
  const parts = [sealer.header];
  for (let i = 0; i < plaintext.length; i += chunk) parts.push(...sealer.push(plaintext.subarray(i, i + chunk)));
  parts.push(sealer.finish());
  return Buffer.concat(parts);
}

/** Opens `envelope` the way a stream does: header, then frames in pieces of `chunk` bytes. */
function open(envelope: Buffer, dataKey: Buffer, chunk = envelope.length || 1): Buffer {
  let header: ReturnType<typeof parseEnvelopeHeader>;
  let offset = 0;
  do {
    offset = Math.min(envelope.length, offset + chunk);
    header = parseEnvelopeHeader(envelope.subarray(0, offset));
  } while (header === undefined && offset < envelope.length);
  if (header === undefined) throw new EnvelopeError('truncated', 'the input ended inside the header');
  const opener = new EnvelopeOpener(header, dataKey);
  const out: Buffer[] = [];
  for (let i = header.length; i < envelope.length; i += chunk) out.push(...opener.push(envelope.subarray(i, i + chunk)));
  opener.finish();
  return Buffer.concat(out);
}

function reasonOf(action: () => unknown): EnvelopeErrorReason | string {
  try {
    action();
  } catch (error) {
    if (error instanceof EnvelopeError) {
      expect(error.code).toBe('invalid_ciphertext');
      return error.reason;
    }
    throw error;
  }
  return 'no error';
}

/** Frame boundaries of an envelope sealed with frame size FRAME: [start, end) of each frame after the header. */
function frames(envelope: Buffer): Array<[number, number]> {
  const header = parseEnvelopeHeader(envelope);
  if (header === undefined) throw new Error('no header');
  const out: Array<[number, number]> = [];
  let offset = header.length;
  while (offset < envelope.length) {
    const final = envelope[offset] === 1;
    const length = final ? 9 + envelope.readUInt32BE(offset + 5) + 16 : 5 + FRAME + 16;
    out.push([offset, offset + length]);
    offset += length;
  }
  return out;
}

describe('envelope format: published vectors (docs/vectors/envelope-v1.json)', () => {
  const dataKey = () => hex(vectors.dataKey);
  const fields = () => ({
    keyName: vectors.keyName,
    wrappedKey: vectors.wrappedKey,
    context: vectors.context,
    frameSize: vectors.frameSize,
    messageId: hex(vectors.messageId),
  });

  it('the wrapped data key opens under the wrapping key of formats.md §7 with the context', () => {
    const secret = decryptCiphertext(parseCiphertext(vectors.wrappedKey), hex(vectors.wrappingKey.key), vectors.context);
    expect(Buffer.from(secret).toString('hex')).toBe(vectors.dataKey);
  });

  it('the message keys are HKDF-SHA-256(data key, salt = message id, info = "keyward envelope v1")', () => {
    const okm = Buffer.from(hkdfSync('sha256', dataKey(), hex(vectors.messageId), 'keyward envelope v1', 64));
    expect(okm.subarray(0, 32).toString('hex')).toBe(vectors.frameKey);
    expect(okm.subarray(32).toString('hex')).toBe(vectors.headerKey);
  });

  it('regenerates every envelope byte for byte from the fixed data key and message id', () => {
    expect(vectors.cases.map((c) => hex(c.plaintext).length)).toEqual([0, 1, 16, 17, 40]);
    for (const c of vectors.cases) {
      const envelope = seal(hex(c.plaintext), dataKey(), fields());
      expect(envelope.toString('hex'), c.name).toBe(c.envelope);
      expect(c.envelope.startsWith(vectors.header), c.name).toBe(true);
    }
  });

  it('decrypts every published envelope, in one piece and byte by byte', () => {
    for (const c of vectors.cases) {
      expect(open(hex(c.envelope), dataKey()).toString('hex'), c.name).toBe(c.plaintext);
      expect(open(hex(c.envelope), dataKey(), 1).toString('hex'), c.name).toBe(c.plaintext);
    }
  });

  it('parses the header fields back', () => {
    const header = parseEnvelopeHeader(hex(vectors.header));
    expect(header).toMatchObject({ keyName: 'vectors', wrappedKey: vectors.wrappedKey, context: vectors.context, frameSize: 16 });
    expect(Buffer.from(header?.messageId ?? []).toString('hex')).toBe(vectors.messageId);
  });
});

describe('envelope format: round trips', () => {
  it.each([0, 1, FRAME - 1, FRAME, FRAME + 1, 2 * FRAME, 5 * FRAME + 3])('%i bytes', (size) => {
    const dataKey = randomBytes(32);
    const plaintext = randomBytes(size);
    const envelope = seal(plaintext, dataKey);
    expect(open(envelope, dataKey).equals(plaintext)).toBe(true);
    // One frame per started frame size, and always a final one (possibly empty).
    expect(frames(envelope)).toHaveLength(Math.max(1, Math.ceil(size / FRAME)));
  });

  it('any plaintext, any chunking on either side (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 60 }),
        (plaintext, inChunk, outChunk) => {
          const dataKey = randomBytes(32);
          const envelope = seal(plaintext, dataKey, fieldsOf(), inChunk);
          expect(open(envelope, dataKey, outChunk).equals(Buffer.from(plaintext))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the sealer refuses a frame size outside 1 … 16 MiB, naming the field', () => {
    for (const frameSize of [0, -1, 1.5, 16 * 1024 * 1024 + 1]) {
      expect(() => new EnvelopeSealer(fieldsOf({ frameSize }), randomBytes(32))).toThrow(
        /^frameSize: must be an integer from 1 to 16777216$/,
      );
    }
  });
});

describe('envelope format: every tampering is detected with its own reason', () => {
  const dataKey = randomBytes(32);
  const plaintext = randomBytes(3 * FRAME + 5);
  const envelope = seal(plaintext, dataKey);
  const header = parseEnvelopeHeader(envelope);
  if (header === undefined) throw new Error('no header');
  const flip = (at: number) => {
    const copy = Buffer.from(envelope);
    copy[at] = (copy[at] ?? 0) ^ 0x01;
    return copy;
  };
  const attempt = (bytes: Buffer) => reasonOf(() => open(bytes, dataKey));

  // Offsets of the header fields (docs/formats.md §11.2).
  const nameAt = 26;
  const nameLength = header.keyName.length;
  const wrappedAt = nameAt + 1 + nameLength + 2;
  const contextAt = wrappedAt + header.wrappedKey.length + 4;
  const tagAt = header.length - 32;

  it('magic → not_envelope; version or suite → unsupported_version', () => {
    for (let i = 0; i < 4; i++) expect(attempt(flip(i))).toBe('not_envelope');
    expect(attempt(flip(4))).toBe('unsupported_version');
    expect(attempt(flip(5))).toBe('unsupported_version');
  });

  it('message id, frame size, key name, wrapped data key, context and header tag → header_tampered', () => {
    for (let i = 6; i < 22; i++) expect(attempt(flip(i)), `message id byte ${i}`).toBe('header_tampered');
    // The frame size's low byte: 16 → 17 is a valid size, so only the tag can catch it.
    expect(attempt(flip(25)), 'frame size').toBe('header_tampered');
    // 'k1' → 'j1' is still a valid key name.
    expect(attempt(flip(nameAt + 1)), 'key name').toBe('header_tampered');
    // The last base64url character of the wrapped key: 'Q' → 'P' stays valid text.
    expect(attempt(flip(wrappedAt + header.wrappedKey.length - 1)), 'wrapped key').toBe('header_tampered');
    // A context value byte: 'acme' → 'acmd'.
    expect(attempt(flip(contextAt + encodeEnvelopeContext(header.context).length - 1)), 'context value').toBe('header_tampered');
    for (let i = tagAt; i < header.length; i++) expect(attempt(flip(i)), `tag byte ${i}`).toBe('header_tampered');
  });

  it('a field edited into an invalid value → malformed_header', () => {
    const zeroFrameSize = Buffer.from(envelope);
    zeroFrameSize.writeUInt32BE(0, 22);
    expect(attempt(zeroFrameSize)).toBe('malformed_header');
    const hugeFrameSize = Buffer.from(envelope);
    hugeFrameSize.writeUInt32BE(0xffffffff, 22);
    expect(attempt(hugeFrameSize)).toBe('malformed_header');
    expect(attempt(flip(nameAt + 1 + nameLength + 1)), 'wrapped-key length').toBe('malformed_header');
    const badName = Buffer.from(envelope);
    badName[nameAt + 1] = 0x41; // 'A' is not allowed in a key name
    expect(attempt(badName)).toBe('malformed_header');
    // A context that claims more entries than it holds is not a canonical encoding.
    const swapped = Buffer.from(envelope);
    swapped.writeUInt32BE(2, contextAt);
    expect(attempt(swapped)).toBe('malformed_header');
  });

  it('changing the frame size to another valid value → header_tampered', () => {
    const changed = Buffer.from(envelope);
    changed.writeUInt32BE(32, 22);
    expect(attempt(changed)).toBe('header_tampered');
  });

  it('a flipped byte in any frame field → frame_tampered, frame_out_of_order or malformed_frame', () => {
    const [first, , , last] = frames(envelope);
    if (first === undefined || last === undefined) throw new Error('expected four frames');
    expect(attempt(flip(first[0])), 'kind byte: regular → final').toBe('malformed_frame');
    expect(attempt(flip(first[0] + 4)), 'sequence').toBe('frame_out_of_order');
    for (let i = first[0] + 5; i < first[1]; i++) expect(attempt(flip(i)), `frame byte ${i}`).toBe('frame_tampered');
    expect(attempt(flip(last[0])), 'final → regular').toBe('truncated');
    expect(attempt(flip(last[0] + 8)), 'final length').toBe('frame_tampered');
    for (let i = last[0] + 9; i < last[1]; i++) expect(attempt(flip(i)), `final frame byte ${i}`).toBe('frame_tampered');
    const kind = Buffer.from(envelope);
    kind[first[0]] = 7;
    expect(attempt(kind)).toBe('malformed_frame');
    const longFinal = Buffer.from(envelope);
    longFinal.writeUInt32BE(FRAME + 1, last[0] + 5);
    expect(attempt(longFinal)).toBe('malformed_frame');
  });

  it('dropping the last frame, or cutting anywhere → truncated', () => {
    const all = frames(envelope);
    const last = all.at(-1);
    if (last === undefined) throw new Error('no frames');
    expect(attempt(envelope.subarray(0, last[0]))).toBe('truncated');
    for (const cut of [header.length, header.length + 1, last[1] - 1])
      expect(attempt(envelope.subarray(0, cut)), `cut at ${cut}`).toBe('truncated');
    expect(reasonOf(() => open(envelope.subarray(0, header.length - 1), dataKey))).toBe('truncated');
  });

  it('reordering frames → frame_out_of_order; a frame repeated → frame_out_of_order', () => {
    const [a, b] = frames(envelope);
    if (a === undefined || b === undefined) throw new Error('expected frames');
    const reordered = Buffer.concat([
      envelope.subarray(0, a[0]),
      envelope.subarray(b[0], b[1]),
      envelope.subarray(a[0], a[1]),
      envelope.subarray(b[1]),
    ]);
    expect(attempt(reordered)).toBe('frame_out_of_order');
    const repeated = Buffer.concat([envelope.subarray(0, b[0]), envelope.subarray(a[0], a[1]), envelope.subarray(b[0])]);
    expect(attempt(repeated)).toBe('frame_out_of_order');
  });

  it('a frame swapped in from another message under the same data key → frame_tampered', () => {
    const other = seal(randomBytes(plaintext.length), dataKey);
    const [, mine] = frames(envelope);
    const [, theirs] = frames(other);
    if (mine === undefined || theirs === undefined) throw new Error('expected frames');
    const swapped = Buffer.concat([envelope.subarray(0, mine[0]), other.subarray(theirs[0], theirs[1]), envelope.subarray(mine[1])]);
    expect(attempt(swapped)).toBe('frame_tampered');
    // The other message's whole body after this header: its first frame is the one checked.
    const spliced = Buffer.concat([envelope.subarray(0, header.length), other.subarray(frames(other)[0]?.[0])]);
    expect(attempt(spliced)).toBe('frame_tampered');
  });

  it('a frame appended after the final one, or any byte → trailing_data', () => {
    const [first] = frames(envelope);
    if (first === undefined) throw new Error('expected frames');
    expect(attempt(Buffer.concat([envelope, envelope.subarray(first[0], first[1])]))).toBe('trailing_data');
    expect(attempt(Buffer.concat([envelope, Buffer.from([0])]))).toBe('trailing_data');
  });

  it('opening with another data key → header_tampered', () => {
    expect(reasonOf(() => open(envelope, randomBytes(32)))).toBe('header_tampered');
  });

  it('a single flipped bit anywhere is always detected (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: envelope.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const copy = Buffer.from(envelope);
        copy[at] = (copy[at] ?? 0) ^ (1 << bit);
        expect(attempt(copy)).not.toBe('no error');
      }),
      { numRuns: 300 },
    );
  });

  it('no error message carries key or plaintext bytes', () => {
    const secrets = [
      dataKey.toString('hex'),
      dataKey.toString('base64'),
      plaintext.subarray(0, 8).toString('hex'),
      plaintext.subarray(0, 8).toString('base64'),
    ];
    for (let at = 0; at < envelope.length; at += 7) {
      try {
        open(flip(at), dataKey);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        for (const secret of secrets) expect(message).not.toContain(secret);
        expect(message).toMatch(/^envelope|^not a Keyward envelope/);
      }
    }
  });

  it('no plaintext of a frame is released before its tag verified', () => {
    const [first] = frames(envelope);
    if (first === undefined) throw new Error('expected frames');
    const opener = new EnvelopeOpener(header, dataKey);
    const tampered = flip(first[1] - 1); // the first frame's tag
    expect(opener.push(tampered.subarray(header.length, first[1] - 1))).toEqual([]);
    expect(() => opener.push(tampered.subarray(first[1] - 1, first[1]))).toThrow(EnvelopeError);
  });
});
