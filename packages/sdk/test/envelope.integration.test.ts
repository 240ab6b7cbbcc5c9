import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { Envelope, EnvelopeError, KeywardApiError, parseEnvelopeHeader } from '../src/index.js';
import { useServer } from './support/server.js';

const FRAME = 1024;

/** Collects a Node stream pipeline's output. */
async function throughNode(input: Uint8Array, transform: NodeJS.ReadWriteStream, chunk = 777): Promise<Buffer> {
  const out: Buffer[] = [];
  const pieces = function* () {
    for (let i = 0; i < input.length; i += chunk) yield Buffer.from(input.subarray(i, i + chunk));
  };
  await pipeline(
    Readable.from(pieces()),
    transform,
    new Writable({
      write(data: Buffer, _encoding, callback) {
        out.push(data);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

/** The same through a web TransformStream. */
async function throughWeb(input: Uint8Array, transform: TransformStream<Uint8Array, Uint8Array>, chunk = 500): Promise<Buffer> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < input.length; i += chunk) controller.enqueue(input.slice(i, i + chunk));
      controller.close();
    },
  });
  const out: Uint8Array[] = [];
  for await (const part of source.pipeThrough(transform)) out.push(part);
  return Buffer.concat(out);
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EnvelopeError) return error.reason;
    if (error instanceof KeywardApiError) return `api:${error.code}`;
    throw error;
  }
  return 'no error';
}

describe('envelope encryption against the real server', () => {
  const ctx = useServer();
  const key = 'env-data';
  const context = { tenant: 'acme', purpose: 'backup' };
  let created = false;
  const ensureKey = async () => {
    if (created) return;
    await ctx.admin.createKey({ name: key, algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    created = true;
  };

  it('buffer round trips: 0 bytes, 1 byte, exactly one frame, one frame plus one byte, several frames', async () => {
    await ensureKey();
    for (const size of [0, 1, FRAME, FRAME + 1, 5 * FRAME + 17]) {
      const plaintext = randomBytes(size);
      ctx.server.remember(plaintext.toString('base64'));
      const sealed = await ctx.admin.envelope.encrypt(plaintext, { key, context, frameSize: FRAME });
      const header = parseEnvelopeHeader(Buffer.from(sealed));
      expect(header).toMatchObject({ keyName: key, context, frameSize: FRAME });
      const opened = await ctx.admin.envelope.decrypt(sealed, { context });
      expect(Buffer.from(opened.plaintext).equals(plaintext), `${size} bytes`).toBe(true);
      expect(opened).toMatchObject({ keyName: key, context, keyVersion: 1, frameSize: FRAME });
    }
  });

  it('Node streams and web streams make the same format: each opens what the other sealed', async () => {
    await ensureKey();
    const plaintext = randomBytes(40 * FRAME + 3);
    const viaNode = await throughNode(plaintext, ctx.admin.envelope.encryptStream({ key, context, frameSize: FRAME }));
    const viaWeb = await throughWeb(plaintext, ctx.admin.envelope.encryptWebStream({ key, context, frameSize: FRAME }));
    expect((await throughWeb(viaNode, ctx.admin.envelope.decryptWebStream({ context }))).equals(plaintext)).toBe(true);
    expect((await throughNode(viaWeb, ctx.admin.envelope.decryptStream(), 1000)).equals(plaintext)).toBe(true);
    // Empty streams still make a whole envelope (header and an empty final frame).
    const empty = await throughNode(new Uint8Array(0), ctx.admin.envelope.encryptStream({ key }));
    expect((await ctx.admin.envelope.decrypt(empty)).plaintext).toHaveLength(0);
  });

  it('decrypts across a rotation: the data key is unwrapped by the version its ciphertext names', async () => {
    await ctx.admin.createKey({ name: 'env-rotating', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    const plaintext = randomBytes(3000);
    const before = await ctx.admin.envelope.encrypt(plaintext, { key: 'env-rotating', frameSize: FRAME });
    await ctx.admin.rotateKey('env-rotating', { reason: 'test' });
    const opened = await ctx.admin.envelope.decrypt(before);
    expect(Buffer.from(opened.plaintext).equals(plaintext)).toBe(true);
    expect(opened.keyVersion).toBe(1);
    const after = await ctx.admin.envelope.decrypt(await ctx.admin.envelope.encrypt(plaintext, { key: 'env-rotating' }));
    expect(after.keyVersion).toBe(2);
  });

  it('with a cache, new messages keep the cached data key (old version) after a rotation until a bound ends it', async () => {
    await ctx.admin.createKey({ name: 'env-cached', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    let now = 1_000_000;
    const envelope = new Envelope(ctx.admin, {
      cache: { maxAgeMs: 60_000, maxMessages: 100, maxBytes: 1 << 20, maxEntries: 10 },
      now: () => now,
    });
    const wrapped = async (data: Uint8Array) => parseEnvelopeHeader(Buffer.from(data))?.wrappedKey;
    const first = await envelope.encrypt(randomBytes(10), { key: 'env-cached', context });
    const second = await envelope.encrypt(randomBytes(10), { key: 'env-cached', context });
    expect(await wrapped(second)).toBe(await wrapped(first));
    // Same data key, different message ids: the frames are under different message keys.
    expect(parseEnvelopeHeader(Buffer.from(second))?.messageId).not.toEqual(parseEnvelopeHeader(Buffer.from(first))?.messageId);
    // Another context is another cache entry.
    const other = await envelope.encrypt(randomBytes(10), { key: 'env-cached', context: { tenant: 'other' } });
    expect(await wrapped(other)).not.toBe(await wrapped(first));

    await ctx.admin.rotateKey('env-cached');
    const stillCached = await envelope.encrypt(randomBytes(10), { key: 'env-cached', context });
    expect(await wrapped(stillCached)).toBe(await wrapped(first));
    expect((await envelope.decrypt(stillCached)).keyVersion).toBe(1);

    now += 60_000;
    const fresh = await envelope.encrypt(randomBytes(10), { key: 'env-cached', context });
    expect(await wrapped(fresh)).not.toBe(await wrapped(first));
    expect((await envelope.decrypt(fresh)).keyVersion).toBe(2);
    for (const message of [first, second, other, stillCached]) await envelope.decrypt(message);
    envelope.clearCache();
  });

  it('the header is checked by Keyward too: an edited context or wrapped key → header_tampered; another key name → not_found', async () => {
    await ensureKey();
    const sealed = Buffer.from(await ctx.admin.envelope.encrypt(randomBytes(100), { key, context, frameSize: FRAME }));
    const header = parseEnvelopeHeader(sealed);
    if (header === undefined) throw new Error('no header');
    const edit = (at: number, value: number) => {
      const copy = Buffer.from(sealed);
      copy[at] = value;
      return copy;
    };
    // 'acme' → 'acmf': still a canonical context, but not the one the data key was bound to.
    const contextEnd = header.length - 32;
    expect(await reasonOf(ctx.admin.envelope.decrypt(edit(contextEnd - 1, 0x66)))).toBe('header_tampered');
    // The wrapped key's last character.
    const wrappedEnd = 26 + 1 + key.length + 2 + header.wrappedKey.length;
    const last = sealed[wrappedEnd - 1] ?? 0;
    expect(await reasonOf(ctx.admin.envelope.decrypt(edit(wrappedEnd - 1, last === 0x41 ? 0x42 : 0x41)))).toBe('header_tampered');
    // 'env-data' → 'env-dbta': no such key; once it exists, it cannot open a data key wrapped under another key.
    expect(await reasonOf(ctx.admin.envelope.decrypt(edit(26 + 1 + 5, 0x62)))).toBe('api:not_found');
    await ctx.admin.createKey({ name: 'env-dbta', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    expect(await reasonOf(ctx.admin.envelope.decrypt(edit(26 + 1 + 5, 0x62)))).toBe('header_tampered');
  });

  it('message ids come from the injected source (the OS CSPRNG by default), and onHeader sees the header before any plaintext', async () => {
    await ensureKey();
    const fixed = new Envelope(ctx.admin, { randomBytes: (length) => Buffer.alloc(length, 0xab) });
    const sealed = await fixed.encrypt(randomBytes(10), { key });
    expect(Buffer.from(parseEnvelopeHeader(Buffer.from(sealed))?.messageId ?? []).toString('hex')).toBe('ab'.repeat(16));
    const random = await ctx.admin.envelope.encrypt(randomBytes(10), { key });
    expect(Buffer.from(parseEnvelopeHeader(Buffer.from(random))?.messageId ?? []).toString('hex')).not.toBe('ab'.repeat(16));
    const seen: string[] = [];
    const plaintext = randomBytes(3 * FRAME);
    const stream = ctx.admin.envelope.decryptStream({
      onHeader: (info) => seen.push(`header ${info.keyName} v${info.keyVersion} ${info.frameSize}`),
    });
    stream.on('data', () => seen.push('data'));
    await throughNode(Buffer.from(await ctx.admin.envelope.encrypt(plaintext, { key, frameSize: FRAME })), stream);
    expect(seen[0]).toBe(`header ${key} v1 ${FRAME}`);
    expect(seen.slice(1).every((event) => event === 'data')).toBe(true);
  });

  it('the caller can demand a context: another one → context_mismatch, before any call', async () => {
    await ensureKey();
    const sealed = await ctx.admin.envelope.encrypt(randomBytes(10), { key, context });
    expect(await reasonOf(ctx.admin.envelope.decrypt(sealed, { context: { tenant: 'acme' } }))).toBe('context_mismatch');
    expect(await reasonOf(ctx.admin.envelope.decrypt(sealed, { context: {} }))).toBe('context_mismatch');
    // Key order does not matter.
    expect((await ctx.admin.envelope.decrypt(sealed, { context: { purpose: 'backup', tenant: 'acme' } })).keyName).toBe(key);
  });

  it('a stream fails with the precise reason: truncated, frame_tampered, trailing_data, not_envelope', async () => {
    await ensureKey();
    const plaintext = randomBytes(4 * FRAME);
    const sealed = Buffer.from(await ctx.admin.envelope.encrypt(plaintext, { key, frameSize: FRAME }));
    expect(await reasonOf(throughNode(sealed.subarray(0, sealed.length - (9 + FRAME + 16)), ctx.admin.envelope.decryptStream()))).toBe(
      'truncated',
    );
    const flipped = Buffer.from(sealed);
    const at = sealed.length - (9 + FRAME + 16) - 100; // inside the last regular frame's ciphertext
    flipped[at] = (flipped[at] ?? 0) ^ 0x80;
    expect(await reasonOf(throughWeb(flipped, ctx.admin.envelope.decryptWebStream()))).toBe('frame_tampered');
    expect(await reasonOf(throughNode(Buffer.concat([sealed, Buffer.from([1])]), ctx.admin.envelope.decryptStream()))).toBe(
      'trailing_data',
    );
    expect(await reasonOf(ctx.admin.envelope.decrypt(new TextEncoder().encode('kw1:not an envelope')))).toBe('not_envelope');
    expect(await reasonOf(ctx.admin.envelope.decrypt(new Uint8Array(0)))).toBe('truncated');
  });

  it('bad input is refused naming the field, before any call to Keyward', async () => {
    // With a key that does not exist, any call would answer not_found: these fail first.
    for (const [options, message] of [
      [{ key: 'no-such-key', frameSize: 0 }, 'frameSize: must be an integer from 1 to 16777216'],
      [{ key: 'no-such-key', frameSize: 2.5 }, 'frameSize: must be an integer from 1 to 16777216'],
      [{ key: 'Not A Name' }, 'key: not a valid key name'],
      [{ key: 'no-such-key', context: { bad: '\ud800' } }, 'context: a key or value holds a lone UTF-16 surrogate'],
    ] as const) {
      await expect(ctx.admin.envelope.encrypt(randomBytes(1), options), message).rejects.toMatchObject({
        code: 'invalid_request',
        message,
      });
      // The stream constructors check their options at once.
      expect(() => ctx.admin.envelope.encryptStream(options)).toThrow(message);
      expect(() => ctx.admin.envelope.encryptWebStream(options)).toThrow(message);
    }
    await expect(ctx.admin.envelope.encrypt(randomBytes(1), { key, frameSize: 0 })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'frameSize: must be an integer from 1 to 16777216',
    });
    await expect(ctx.admin.envelope.encrypt(randomBytes(1), { key, context: { tenant: 7 as unknown as string } })).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'context.tenant: must be a string',
    });
    await expect(ctx.admin.envelope.encrypt(randomBytes(1), { key: 'no-such-key' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
