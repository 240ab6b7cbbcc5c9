import { constants, createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ALGORITHMS, INVALID_CIPHERTEXT_MESSAGE } from '@keyward/wire';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness, unb64 } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
  for (const alg of ALGORITHMS) await h.createKey(`k-${alg}`, alg);
  await h.createKey('other-aes');
});
afterAll(async () => h.close());

const post = (path: string, body: unknown) => h.call('POST', path, body);
const message = b64('the quick brown fox jumps over the lazy dog');

describe('encryption keys', () => {
  for (const alg of ['aes-256-gcm', 'chacha20-poly1305', 'rsa-oaep-3072', 'rsa-oaep-4096'] as const) {
    it(`${alg}: encrypt/decrypt round trip, context bound, empty plaintext`, async () => {
      const e = await post(`/v1/keys/k-${alg}/encrypt`, { plaintext: message, context: { user: '42', app: 'x' } });
      expect(e.status, JSON.stringify(e.body)).toBe(200);
      expect(e.body.keyVersion).toBe(1);
      expect(e.body.ciphertext).toMatch(/^kw1:[A-Za-z0-9_-]+$/);
      const d = await post(`/v1/keys/k-${alg}/decrypt`, { ciphertext: e.body.ciphertext, context: { app: 'x', user: '42' } });
      expect(d.body).toEqual({ plaintext: message, keyVersion: 1 });
      const wrong = await post(`/v1/keys/k-${alg}/decrypt`, { ciphertext: e.body.ciphertext, context: { app: 'x' } });
      expect(wrong.body.error).toMatchObject({ code: 'invalid_ciphertext', message: INVALID_CIPHERTEXT_MESSAGE });
      const empty = await post(`/v1/keys/k-${alg}/encrypt`, { plaintext: '' });
      expect((await post(`/v1/keys/k-${alg}/decrypt`, { ciphertext: empty.body.ciphertext })).body.plaintext).toBe('');
    });
  }

  it('RSA-OAEP refuses a plaintext over its limit with a precise message', async () => {
    const r = await post('/v1/keys/k-rsa-oaep-3072/encrypt', { plaintext: b64(Buffer.alloc(319)) });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe('plaintext: rsa-oaep-3072 encrypts at most 318 bytes');
  });

  it('tampered, truncated, other-key and wrong-context ciphertexts all give the same invalid_ciphertext', async () => {
    const ct: string = (await post('/v1/keys/k-aes-256-gcm/encrypt', { plaintext: message, context: { a: 'b' } })).body.ciphertext;
    const raw = Buffer.from(ct.slice(4), 'base64url');
    const flip = (i: number) => {
      const copy = Buffer.from(raw);
      copy[i] = (copy[i] as number) ^ 1;
      return `kw1:${copy.toString('base64url')}`;
    };
    const otherKey: string = (await post('/v1/keys/other-aes/encrypt', { plaintext: message, context: { a: 'b' } })).body.ciphertext;
    const cases: Record<string, { ciphertext: string; context?: Record<string, string> }> = {
      'flipped header': { ciphertext: flip(1), context: { a: 'b' } },
      'flipped key id': { ciphertext: flip(5), context: { a: 'b' } },
      'flipped version': { ciphertext: flip(20), context: { a: 'b' } },
      'flipped nonce': { ciphertext: flip(25), context: { a: 'b' } },
      'flipped body': { ciphertext: flip(40), context: { a: 'b' } },
      'flipped tag': { ciphertext: flip(raw.length - 1), context: { a: 'b' } },
      truncated: { ciphertext: ct.slice(0, -6), context: { a: 'b' } },
      'cut to the header': { ciphertext: `kw1:${raw.subarray(0, 22).toString('base64url')}` },
      'another key': { ciphertext: otherKey, context: { a: 'b' } },
      'wrong context': { ciphertext: ct, context: { a: 'c' } },
      'missing context': { ciphertext: ct },
      'extra context': { ciphertext: ct, context: { a: 'b', c: 'd' } },
      'not a ciphertext': { ciphertext: 'hello' },
      'bad prefix': { ciphertext: `kw2:${ct.slice(4)}` },
    };
    for (const [name, body] of Object.entries(cases)) {
      const r = await post('/v1/keys/k-aes-256-gcm/decrypt', body);
      expect(r.status, name).toBe(400);
      expect(r.body.error, name).toMatchObject({ code: 'invalid_ciphertext', message: INVALID_CIPHERTEXT_MESSAGE });
    }
  });

  it('data keys: plaintext decrypts from its ciphertext; includePlaintext false omits it', async () => {
    const dk = await post('/v1/keys/k-aes-256-gcm/data-key', { bytes: 32, context: { f: 'a' } });
    expect(dk.status).toBe(200);
    expect(unb64(dk.body.plaintext)).toHaveLength(32);
    const d = await post('/v1/keys/k-aes-256-gcm/decrypt', { ciphertext: dk.body.ciphertext, context: { f: 'a' } });
    expect(d.body.plaintext).toBe(dk.body.plaintext);
    const hidden = await post('/v1/keys/k-aes-256-gcm/data-key', { includePlaintext: false });
    expect(hidden.body.plaintext).toBeUndefined();
    expect(unb64((await post('/v1/keys/k-aes-256-gcm/decrypt', { ciphertext: hidden.body.ciphertext })).body.plaintext)).toHaveLength(32);
    expect((await post('/v1/keys/k-rsa-oaep-3072/data-key', {})).body.error.code).toBe('invalid_request');
  });

  it('batch encrypt/decrypt/rewrap answer per item, in order; a bad item fails alone', async () => {
    const enc = await post('/v1/keys/k-aes-256-gcm/encrypt', {
      items: [{ plaintext: b64('one-item') }, { plaintext: 'not base64!' }, { plaintext: b64('three-item'), context: { x: 'y' } }],
    });
    expect(enc.status).toBe(200);
    expect(enc.body.items[0].keyVersion).toBe(1);
    expect(enc.body.items[1].error).toMatchObject({ code: 'invalid_request' });
    expect(enc.body.items[1].error.message).toMatch(/^items\[1\]: plaintext/);
    const dec = await post('/v1/keys/k-aes-256-gcm/decrypt', {
      items: [
        { ciphertext: enc.body.items[2].ciphertext, context: { x: 'y' } },
        { ciphertext: enc.body.items[0].ciphertext, context: { x: 'y' } },
        { ciphertext: enc.body.items[0].ciphertext },
      ],
    });
    expect(dec.body.items[0]).toEqual({ plaintext: b64('three-item'), keyVersion: 1 });
    expect(dec.body.items[1].error.code).toBe('invalid_ciphertext');
    expect(dec.body.items[2]).toEqual({ plaintext: b64('one-item'), keyVersion: 1 });
    const re = await post('/v1/keys/k-aes-256-gcm/rewrap', { items: [{ ciphertext: enc.body.items[0].ciphertext }] });
    expect(re.body.items[0].keyVersion).toBe(1);
  });
});

describe('signing keys', () => {
  const verifiers: Record<string, (pem: string, msg: Buffer, sig: Buffer) => boolean> = {
    ed25519: (pem, msg, sig) => nodeVerify(null, msg, createPublicKey(pem), sig),
    'ecdsa-p256': (pem, msg, sig) => nodeVerify('sha256', msg, createPublicKey(pem), sig),
    'ecdsa-p384': (pem, msg, sig) => nodeVerify('sha384', msg, createPublicKey(pem), sig),
    'rsa-pss-3072': (pem, msg, sig) =>
      nodeVerify('sha256', msg, { key: createPublicKey(pem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig),
    'rsa-pss-4096': (pem, msg, sig) =>
      nodeVerify('sha512', msg, { key: createPublicKey(pem), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, sig),
  };

  for (const alg of ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072', 'rsa-pss-4096', 'ml-dsa-65'] as const) {
    it(`${alg}: sign, verify, public key; an independent verifier agrees`, async () => {
      const s = await post(`/v1/keys/k-${alg}/sign`, { message });
      expect(s.status, JSON.stringify(s.body)).toBe(200);
      expect(s.body.keyVersion).toBe(1);
      const v = await post(`/v1/keys/k-${alg}/verify`, { message, signature: s.body.signature });
      expect(v.body).toEqual({ valid: true, keyVersion: 1 });
      const bad = Buffer.from(unb64(s.body.signature));
      bad[3] = (bad[3] as number) ^ 0x10;
      expect((await post(`/v1/keys/k-${alg}/verify`, { message, signature: b64(bad) })).body).toEqual({ valid: false, keyVersion: null });
      expect((await post(`/v1/keys/k-${alg}/verify`, { message: b64('other'), signature: s.body.signature })).body.valid).toBe(false);
      const pk = await h.call('GET', `/v1/keys/k-${alg}/public-key`);
      expect(pk.status).toBe(200);
      expect(pk.body.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(pk.body.keyVersion).toBe(1);
      const key = await h.call('GET', `/v1/keys/k-${alg}`);
      expect(key.body.versions[0].publicKey).toBe(pk.body.publicKey);
      expect(key.body.versions[0].fingerprint).toBe(`sha256:${createHash('sha256').update(pemBody(pk.body.publicKey)).digest('hex')}`);
      const independent = verifiers[alg];
      if (independent) expect(independent(pk.body.publicKey, unb64(message), unb64(s.body.signature))).toBe(true);
      else expect(pk.body.jwk).toMatchObject({ kty: 'AKP', alg: 'ML-DSA-65' });
    });
  }

  it('ECDSA signs a caller-supplied digest; other algorithms refuse digests precisely', async () => {
    const digest = createHash('sha256').update('document').digest();
    const s = await post('/v1/keys/k-ecdsa-p256/sign', { digest: b64(digest) });
    expect(s.status).toBe(200);
    const pem = (await h.call('GET', '/v1/keys/k-ecdsa-p256/public-key')).body.publicKey;
    expect(nodeVerify('sha256', Buffer.from('document'), createPublicKey(pem), unb64(s.body.signature))).toBe(true);
    expect((await post('/v1/keys/k-ecdsa-p256/verify', { digest: b64(digest), signature: s.body.signature })).body.valid).toBe(true);
    const short = await post('/v1/keys/k-ecdsa-p256/sign', { digest: b64(digest.subarray(0, 20)) });
    expect(short.body.error.code).toBe('invalid_request');
    expect(short.body.error.message).toMatch(/^digest: /);
    const ed = await post('/v1/keys/k-ed25519/sign', { digest: b64(digest) });
    expect(ed.body.error).toMatchObject({ code: 'invalid_request' });
    expect(ed.body.error.message).toMatch(/^digest: /);
    const both = await post('/v1/keys/k-ed25519/sign', { digest: b64(digest), message });
    expect(both.body.error.code).toBe('invalid_request');
  });

  it('the JWK from public-key verifies a JWS with jose', async () => {
    const pk = await h.call('GET', '/v1/keys/k-ecdsa-p256/public-key');
    const jwk = await importJWK(pk.body.jwk, 'ES256');
    // A JWS whose signing input Keyward signs: header.payload, ECDSA DER → JOSE raw r‖s.
    const header = Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url');
    const payload = Buffer.from('{"sub":"keyward"}').toString('base64url');
    const der = unb64((await post('/v1/keys/k-ecdsa-p256/sign', { message: b64(`${header}.${payload}`) })).body.signature);
    const raw = derToRaw(der, 32);
    const { payload: out } = await compactVerify(`${header}.${payload}.${raw.toString('base64url')}`, jwk);
    expect(Buffer.from(out).toString()).toBe('{"sub":"keyward"}');
  });

  it('verify tries every verifying version; a named version is used as named', async () => {
    await h.createKey('sig-rot', 'ed25519');
    const old = (await post('/v1/keys/sig-rot/sign', { message })).body.signature;
    await h.call('POST', '/v1/keys/sig-rot/rotate');
    expect((await post('/v1/keys/sig-rot/sign', { message })).body.keyVersion).toBe(2);
    expect((await post('/v1/keys/sig-rot/verify', { message, signature: old })).body).toEqual({ valid: true, keyVersion: 1 });
    expect((await post('/v1/keys/sig-rot/verify', { message, signature: old, keyVersion: 2 })).body).toEqual({
      valid: false,
      keyVersion: null,
    });
    expect((await post('/v1/keys/sig-rot/verify', { message, signature: old, keyVersion: 7 })).body.error.code).toBe('not_found');
    expect((await h.call('GET', '/v1/keys/sig-rot/public-key?version=1')).body.keyVersion).toBe(1);
  });
});

describe('MAC keys', () => {
  for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
    it(`${alg}: mac and verify-mac across a rotation`, async () => {
      const m = await post(`/v1/keys/k-${alg}/mac`, { message });
      expect(unb64(m.body.mac)).toHaveLength(alg === 'hmac-sha256' ? 32 : 64);
      expect((await post(`/v1/keys/k-${alg}/verify-mac`, { message, mac: m.body.mac })).body.valid).toBe(true);
      expect((await post(`/v1/keys/k-${alg}/verify-mac`, { message: b64('x'), mac: m.body.mac })).body.valid).toBe(false);
      expect((await post(`/v1/keys/k-${alg}/verify-mac`, { message, mac: b64(unb64(m.body.mac).subarray(0, 16)) })).body.valid).toBe(false);
      expect((await h.call('GET', `/v1/keys/k-${alg}/public-key`)).body.error.code).toBe('invalid_request');
    });
  }
});

describe('usage mismatches', () => {
  it('an operation the key cannot do is 400 invalid_request naming the key', async () => {
    for (const [key, op, body] of [
      ['k-hmac-sha256', 'encrypt', { plaintext: message }],
      ['k-aes-256-gcm', 'sign', { message }],
      ['k-ed25519', 'mac', { message }],
      ['k-ed25519', 'encrypt', { plaintext: message }],
    ] as const) {
      const r = await post(`/v1/keys/${key}/${op}`, body);
      expect(r.status, `${key} ${op}`).toBe(400);
      expect(r.body.error.message).toContain(`key '${key}'`);
    }
  });
});

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** ECDSA DER (r, s INTEGERs) → fixed-size r‖s, as JOSE wants (RFC 7518 §3.4). */
function derToRaw(der: Buffer, size: number): Buffer {
  let offset = 2;
  const read = () => {
    const length = der[offset + 1] as number;
    const value = der.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    const trimmed = value[0] === 0 ? value.subarray(1) : value;
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([read(), read()]);
}
