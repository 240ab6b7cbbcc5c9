import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decryptCiphertext, encryptToCiphertext, parseCiphertext } from '../src/ciphertext.js';
import { type CiphertextHeader, encodeHeader, sealAeadWithNonce, sharedHeader } from '../src/ciphertext-layout.js';
import { encodeContext } from '../src/encode-context.js';
import { getAlgorithm } from '../src/registry.js';
import { hex } from './wycheproof.js';

const KEY = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const KEY_ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

/** The golden vectors of docs/formats.md §6 — keep the two in step. */
const GOLDEN = [
  {
    name: 'vector 1 (AES-256-GCM)',
    header: { keyId: KEY_ID, keyVersion: 1, algorithm: 'aes-256-gcm' },
    nonce: 'cafebabefacedbaddecaf888',
    plaintext: 'hello, keyward',
    context: { tenant: 'acme', purpose: 'backup' },
    bytes:
      '01013f2504e04f8941d39a0c0305e82c330100000001cafebabefacedbaddecaf888e2c6cc4ac5566f7023722abc09799083904d44ee4ff41dbd704a1de5610e',
    text: 'kw1:AQE_JQTgT4lB05oMAwXoLDMBAAAAAcr-ur76ztut3sr4iOLGzErFVm9wI3IqvAl5kIOQTUTuT_QdvXBKHeVhDg',
  },
  {
    name: 'vector 2 (ChaCha20-Poly1305, empty plaintext and context, version 2^32-1)',
    header: { keyId: KEY_ID, keyVersion: 0xffff_ffff, algorithm: 'chacha20-poly1305' },
    nonce: '000000000000000000000001',
    plaintext: '',
    context: {},
    bytes: '01023f2504e04f8941d39a0c0305e82c3301ffffffff000000000000000000000001c26a2661bb93b71733c0671f1bf1c6b0',
    text: 'kw1:AQI_JQTgT4lB05oMAwXoLDMB_____wAAAAAAAAAAAAAAAcJqJmG7k7cXM8BnHxvxxrA',
  },
] as const;

const CONTEXT_VECTORS: ReadonlyArray<[Record<string, string>, string]> = [
  [{}, '00000000'],
  [{ tenant: 'acme', purpose: 'backup' }, '0000000200000007707572706f7365000000066261636b75700000000674656e616e740000000461636d65'],
  [{ z: '', é: 'ü', Z: 'x' }, '00000003000000015a0000000178000000017a0000000000000002c3a900000002c3bc'],
];

describe('ciphertext golden vectors (docs/formats.md)', () => {
  for (const v of GOLDEN) {
    it(`${v.name}: byte-for-byte, parse, decrypt`, () => {
      const text = sealAeadWithNonce(v.header, KEY, hex(v.nonce), Buffer.from(v.plaintext), v.context);
      expect(text).toBe(v.text);
      expect(Buffer.from(text.slice(4), 'base64url').toString('hex')).toBe(v.bytes);
      const parsed = parseCiphertext(v.text);
      expect(parsed).toMatchObject({ formatVersion: 1, ...v.header });
      expect(Buffer.from(parsed.nonce).toString('hex')).toBe(v.nonce);
      expect(Buffer.from(decryptCiphertext(parsed, KEY, v.context)).toString('utf8')).toBe(v.plaintext);
    });
  }

  it('vector 1 checked independently with WebCrypto AES-GCM: AAD = header (22 bytes) ‖ encoded context', async () => {
    const v = GOLDEN[0];
    const bytes = hex(v.bytes);
    const aad = Buffer.concat([bytes.subarray(0, 22), encodeContext(v.context)]);
    const key = await webcrypto.subtle.importKey('raw', KEY, 'AES-GCM', false, ['encrypt']);
    const sealed = await webcrypto.subtle.encrypt(
      { name: 'AES-GCM', iv: hex(v.nonce), additionalData: aad },
      key,
      Buffer.from(v.plaintext),
    );
    expect(Buffer.from(sealed).toString('hex')).toBe(v.bytes.slice(2 * 34));
  });

  it('docs/formats.md shows these same vectors', () => {
    const doc = readFileSync(new URL('../../../docs/formats.md', import.meta.url), 'utf8');
    for (const v of GOLDEN) expect(doc).toContain(v.text);
    for (const [, encoding] of CONTEXT_VECTORS) expect(doc).toContain(encoding);
    expect(doc.replace(/\s+/g, '')).toContain(GOLDEN[0].bytes);
    expect(doc.replace(/\s+/g, '')).toContain(GOLDEN[1].bytes);
  });

  for (const [context, expected] of CONTEXT_VECTORS) {
    it(`encodeContext(${JSON.stringify(context)})`, () => {
      expect(Buffer.from(encodeContext(context)).toString('hex')).toBe(expected);
    });
  }
});

describe('encodeContext', () => {
  it('is unambiguous where naive concatenation is not', () => {
    expect(encodeContext({ a: 'bc' })).not.toEqual(encodeContext({ ab: 'c' }));
    expect(encodeContext({ a: '', b: '' })).not.toEqual(encodeContext({ a: '\u0000\u0000\u0000\u0001b' }));
  });

  it('refuses non-string values and lone surrogates with invalid_input', () => {
    for (const bad of [{ a: 1 }, { a: null }, { '\uD800': 'x' }, { a: '\uDC00' }, [], null]) {
      expect(() => encodeContext(bad as unknown as Record<string, string>)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
    expect(Buffer.from(encodeContext({ a: '\uD83D\uDE00' })).toString('hex')).toBe('000000010000000161' + '00000004f09f9880');
  });
});

describe('parseCiphertext is strict', () => {
  const good = GOLDEN[0].text;
  const body = good.slice(4);
  const rejects = (text: string) => expect(() => parseCiphertext(text)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));

  it('exposes keyId and keyVersion', () => {
    expect(parseCiphertext(good)).toMatchObject({ keyId: KEY_ID, keyVersion: 1, algorithm: 'aes-256-gcm' });
  });

  it('rejects a wrong prefix, padding, foreign characters, whitespace, non-canonical base64url', () => {
    rejects(`kw2:${body}`);
    rejects(`KW1:${body}`);
    rejects(body);
    rejects(`${good}=`);
    rejects(`${good}==`);
    rejects(`${good.slice(0, 10)}+${good.slice(11)}`);
    rejects(`${good.slice(0, 10)} ${good.slice(10)}`);
    rejects(`${good}\n`);
    rejects(`${good}AAA`); // length ≡ 1 (mod 4) cannot be base64
    // Last character carries unused low bits: "…Dg" canonical, "…Dh" decodes to the same bytes.
    expect(good.endsWith('Dg')).toBe(true);
    rejects(`${good.slice(0, -1)}h`);
    rejects('');
    rejects('kw1:');
  });

  it('rejects unknown format or algorithm, version 0, short nonce, body shorter than the tag, wrong RSA length', () => {
    const bytes = hex(GOLDEN[0].bytes);
    const text = (b: Uint8Array) => `kw1:${Buffer.from(b).toString('base64url')}`;
    const mutate = (i: number, value: number) => {
      const copy = Uint8Array.from(bytes);
      copy[i] = value;
      return text(copy);
    };
    rejects(mutate(0, 0x02));
    rejects(mutate(0, 0x00));
    rejects(mutate(1, 0x00));
    rejects(mutate(1, 0x05));
    const zeroVersion = Uint8Array.from(bytes);
    zeroVersion.fill(0, 18, 22);
    rejects(text(zeroVersion));
    rejects(text(bytes.subarray(0, 22 + 12 + 15))); // one byte short of a tag
    rejects(text(bytes.subarray(0, 30)));
    rejects(text(bytes.subarray(0, 21)));
    // An RSA-OAEP-3072 header with an AEAD-sized body.
    rejects(mutate(1, 0x03));
    expect(parseCiphertext(text(bytes.subarray(0, 22 + 12 + 16))).body.length).toBe(16); // empty plaintext is well-formed
  });

  it('trailing bytes are not silently ignored: they fail authentication', () => {
    const bytes = Buffer.concat([hex(GOLDEN[0].bytes), Uint8Array.of(0)]);
    const parsed = parseCiphertext(`kw1:${bytes.toString('base64url')}`);
    expect(() => decryptCiphertext(parsed, KEY, GOLDEN[0].context)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
  });
});

describe('encryptToCiphertext / decryptCiphertext', () => {
  it('fails uniformly on wrong key, wrong context, a key of the wrong kind, or edited fields', () => {
    const parsed = parseCiphertext(GOLDEN[0].text);
    const fail = (f: () => unknown) => expect(f).toThrow(expect.objectContaining({ code: 'decrypt_failed', message: 'decryption failed' }));
    fail(() => decryptCiphertext(parsed, new Uint8Array(32), GOLDEN[0].context));
    fail(() => decryptCiphertext(parsed, KEY, {}));
    fail(() => decryptCiphertext(parsed, KEY, { tenant: 'acme', purpose: 'backup', extra: '' }));
    fail(() => decryptCiphertext(parsed, new Uint8Array(16), GOLDEN[0].context));
    fail(() => decryptCiphertext({ ...parsed, keyVersion: 2 }, KEY, GOLDEN[0].context));
    fail(() => decryptCiphertext({ ...parsed, algorithm: 'chacha20-poly1305' }, KEY, GOLDEN[0].context));
    fail(() => decryptCiphertext({ ...parsed, algorithm: 'rsa-oaep-3072' }, KEY, GOLDEN[0].context));
  });

  it('validates the header and the context with invalid_input', () => {
    const bad = (header: Parameters<typeof encryptToCiphertext>[0]) =>
      expect(() => encryptToCiphertext(header, KEY, new Uint8Array(), {})).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    bad({ keyId: 'not-a-uuid', keyVersion: 1, algorithm: 'aes-256-gcm' });
    bad({ keyId: KEY_ID, keyVersion: 0, algorithm: 'aes-256-gcm' });
    bad({ keyId: KEY_ID, keyVersion: 2 ** 32, algorithm: 'aes-256-gcm' });
    bad({ keyId: KEY_ID, keyVersion: 1.5, algorithm: 'aes-256-gcm' });
    bad({ keyId: KEY_ID, keyVersion: 1, algorithm: 'hmac-sha256' as 'aes-256-gcm' });
    const parsed = parseCiphertext(GOLDEN[0].text);
    expect(() => decryptCiphertext(parsed, KEY, { a: 1 } as unknown as Record<string, string>)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
  });

  it('a remembered header never stands in for an invalid one: every field is checked again', () => {
    const valid = { keyId: KEY_ID, keyVersion: 7, algorithm: 'aes-256-gcm' } as const;
    expect(sharedHeader(valid)).toEqual(encodeHeader(valid));
    expect(sharedHeader({ ...valid })).toBe(sharedHeader(valid));
    const bad = (header: unknown) => {
      expect(() => sharedHeader(header as CiphertextHeader)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
      expect(() => encryptToCiphertext(header as CiphertextHeader, KEY, new Uint8Array(), {})).toThrow(
        expect.objectContaining({ code: 'invalid_input' }),
      );
    };
    bad({ ...valid, keyVersion: '7' });
    bad({ ...valid, keyVersion: 7.5 });
    bad({ ...valid, keyId: `${KEY_ID}0` });
    bad({ ...valid, keyId: [KEY_ID] });
    bad({ ...valid, algorithm: 'hmac-sha256' });
    bad({ ...valid, algorithm: 'toString' });
    // Versions and keys do not share bytes.
    expect(sharedHeader({ ...valid, keyVersion: 8 })).toEqual(encodeHeader({ ...valid, keyVersion: 8 }));
    expect(sharedHeader({ ...valid, algorithm: 'chacha20-poly1305' })[1]).toBe(0x02);
    // Past 4,096 remembered headers the map starts over; every header still encodes to its own bytes.
    for (let version = 1; version <= 5000; version++) {
      const header = { ...valid, keyVersion: version };
      expect(sharedHeader(header)).toEqual(encodeHeader(header));
    }
    expect(sharedHeader(valid)).toEqual(encodeHeader(valid));
  });

  it('keyId is returned in lowercase; uppercase input encodes the same bytes', () => {
    const text = encryptToCiphertext(
      { keyId: KEY_ID.toUpperCase(), keyVersion: 3, algorithm: 'aes-256-gcm' },
      KEY,
      new Uint8Array([1]),
      {},
    );
    expect(parseCiphertext(text).keyId).toBe(KEY_ID);
  });

  it('RSA-OAEP: encrypt to the public key (PEM or SPKI-less secret), decrypt with the secret; header and context bound via the label', () => {
    const { secret, publicKeyPem } = getAlgorithm('rsa-oaep-3072').generate();
    const header = { keyId: KEY_ID, keyVersion: 9, algorithm: 'rsa-oaep-3072' } as const;
    const text = encryptToCiphertext(header, publicKeyPem ?? '', Buffer.from('data key'), { app: 'x' });
    const parsed = parseCiphertext(text);
    expect(parsed).toMatchObject(header);
    expect(parsed.nonce.length).toBe(0);
    expect(parsed.body.length).toBe(384);
    expect(Buffer.from(decryptCiphertext(parsed, secret, { app: 'x' })).toString()).toBe('data key');
    expect(() => decryptCiphertext(parsed, secret, { app: 'y' })).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    expect(() => decryptCiphertext({ ...parsed, keyVersion: 8 }, secret, { app: 'x' })).toThrow(
      expect.objectContaining({ code: 'decrypt_failed' }),
    );
    expect(() => decryptCiphertext(parsed, KEY, { app: 'x' })).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    const fromSecret = encryptToCiphertext(header, secret, new Uint8Array(318), {});
    expect(decryptCiphertext(parseCiphertext(fromSecret), secret, {}).length).toBe(318);
    expect(() => encryptToCiphertext(header, secret, new Uint8Array(319), {})).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    rejectsLength(text);
  });
});

function rejectsLength(rsaText: string): void {
  const bytes = Buffer.from(rsaText.slice(4), 'base64url');
  for (const b of [bytes.subarray(0, -1), Buffer.concat([bytes, Uint8Array.of(0)])]) {
    expect(() => parseCiphertext(`kw1:${b.toString('base64url')}`)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
  }
}
