import { compactVerify, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness, unb64 } from '../support/harness.js';

let h: Harness;
let url: string;
beforeAll(async () => {
  h = await Harness.start();
  url = await h.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => h.close());

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url');

/** ECDSA DER (SEQUENCE { INTEGER r, INTEGER s }) as JOSE's fixed-size r ‖ s (RFC 7518 §3.4). */
function derToJose(der: Uint8Array, size: number): Buffer {
  const integers: Buffer[] = [];
  let at = 2; // SEQUENCE tag and (short) length: P-256 and P-384 signatures are under 128 bytes
  if (der[1]! & 0x80) at += der[1]! & 0x7f;
  while (at < der.length) {
    const length = der[at + 1]!;
    let value = Buffer.from(der.subarray(at + 2, at + 2 + length));
    while (value.length > size && value[0] === 0) value = value.subarray(1);
    integers.push(Buffer.concat([Buffer.alloc(size - value.length), value]));
    at += 2 + length;
  }
  expect(integers).toHaveLength(2);
  return Buffer.concat(integers);
}

interface Signer {
  id: string;
  algorithm: 'ed25519' | 'ecdsa-p256';
}

/** A compact JWS whose signature Keyward made with the key's primary version; kid names that version. */
async function keywardJws(name: string, key: Signer, payload: object): Promise<{ jws: string; version: number }> {
  const version = (await h.call('GET', `/v1/keys/${name}`)).body.primaryVersion as number;
  const alg = key.algorithm === 'ed25519' ? 'EdDSA' : 'ES256';
  const input = `${b64url(JSON.stringify({ alg, kid: `${key.id}:${version}`, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  const signed = await h.call('POST', `/v1/keys/${name}/sign`, { message: b64(input) });
  expect(signed.status, JSON.stringify(signed.body)).toBe(200);
  expect(signed.body.keyVersion).toBe(version);
  const raw = unb64(signed.body.signature);
  const signature = key.algorithm === 'ed25519' ? raw : derToJose(raw, 32);
  return { jws: `${input}.${b64url(signature)}`, version };
}

const remote = (name: string, token = h.adminToken, options: { cooldownDuration?: number } = {}) =>
  createRemoteJWKSet(new URL(`${url}/v1/keys/${name}/jwks`), { headers: { authorization: `Bearer ${token}` }, ...options });

const kids = async (name: string): Promise<string[]> => {
  const r = await h.call('GET', `/v1/keys/${name}/jwks`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.keys.map((k: { kid: string }) => k.kid);
};

describe('GET /v1/keys/{name}/jwks', () => {
  it('verifies Keyward signatures with jose remote JWKS across two rotations (ed25519, JWT)', async () => {
    const key = (await h.createKey('jwt-signer', 'ed25519')) as Signer & Record<string, unknown>;
    const first = await keywardJws('jwt-signer', key, { sub: 'svc-a', n: 1 });
    expect(first.version).toBe(1);

    // A verifier that caches the set (jose's default cooldown: no refetch within 30 s).
    const cached = remote('jwt-signer');
    const verified = await jwtVerify(first.jws, cached, { algorithms: ['EdDSA'] });
    expect(verified.payload).toMatchObject({ sub: 'svc-a', n: 1 });
    expect(verified.protectedHeader.kid).toBe(`${key.id}:1`);

    expect((await h.call('POST', '/v1/keys/jwt-signer/rotate', { reason: 'first' })).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/jwt-signer/rotate', { reason: 'second' })).status).toBe(200);
    const third = await keywardJws('jwt-signer', key, { sub: 'svc-a', n: 3 });
    expect(third.version).toBe(3);

    // Version 1 is still active: the cached set still verifies it, and so does a fresh one.
    expect((await jwtVerify(first.jws, cached)).payload.n).toBe(1);
    const fresh = remote('jwt-signer');
    expect((await jwtVerify(first.jws, fresh)).payload.n).toBe(1);
    expect((await jwtVerify(third.jws, fresh)).protectedHeader.kid).toBe(`${key.id}:3`);
    // The cached set never met version 3 and is cooling down: an unknown kid, not a wrong signature.
    await expect(jwtVerify(third.jws, cached)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
    expect(await kids('jwt-signer')).toEqual([`${key.id}:3`, `${key.id}:2`, `${key.id}:1`]);

    // A tampered payload fails with the right key.
    const [header, , signature] = third.jws.split('.');
    const forged = `${header}.${b64url(JSON.stringify({ sub: 'svc-a', n: 4 }))}.${signature}`;
    await expect(jwtVerify(forged, fresh)).rejects.toBeInstanceOf(joseErrors.JWSSignatureVerificationFailed);
  });

  it('verifies ECDSA P-256 signatures (DER converted to r‖s) across two rotations', async () => {
    const key = (await h.createKey('es-signer', 'ecdsa-p256')) as Signer & Record<string, unknown>;
    const first = await keywardJws('es-signer', key, { v: 1 });
    await h.call('POST', '/v1/keys/es-signer/rotate', {});
    await h.call('POST', '/v1/keys/es-signer/rotate', {});
    const third = await keywardJws('es-signer', key, { v: 3 });
    expect(third.version).toBe(3);
    const jwks = remote('es-signer');
    const one = await compactVerify(first.jws, jwks, { algorithms: ['ES256'] });
    expect(JSON.parse(new TextDecoder().decode(one.payload))).toEqual({ v: 1 });
    const three = await compactVerify(third.jws, jwks);
    expect(three.protectedHeader).toMatchObject({ alg: 'ES256', kid: `${key.id}:3` });

    const r = await h.call('GET', '/v1/keys/es-signer/jwks');
    expect(r.body.keys[0]).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: expect.any(String),
      y: expect.any(String),
      kid: `${key.id}:3`,
      alg: 'ES256',
      use: 'sig',
    });
  });

  it('publishes a prepublished pre_active version, and drops compromised ones and those below minDecryptionVersion', async () => {
    const key = await h.createKey('rolling', 'ed25519');
    await h.call('POST', '/v1/keys/rolling/rotate', {});
    await h.call('POST', '/v1/keys/rolling/rotate', {});
    const soon = new Date(h.clock.now().getTime() + 3_600_000).toISOString();
    const prepublished = await h.call('POST', '/v1/keys/rolling/rotate', { activationDate: soon });
    expect(prepublished.status, JSON.stringify(prepublished.body)).toBe(200);
    expect(prepublished.body.versions.find((v: { version: number }) => v.version === 4).state).toBe('pre_active');
    expect(await kids('rolling')).toEqual([4, 3, 2, 1].map((n) => `${key.id}:${n}`));

    // Its JWK is there before it signs anything.
    const four = (await h.call('GET', '/v1/keys/rolling/jwks')).body.keys[0];
    expect(four).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: `${key.id}:4` });
    expect(four).not.toHaveProperty('d');

    expect((await h.call('POST', '/v1/keys/rolling/versions/2/compromise', { reason: 'drill' })).status).toBe(200);
    expect(await kids('rolling')).toEqual([4, 3, 1].map((n) => `${key.id}:${n}`));
    const first = (await h.call('POST', '/v1/keys/rolling/versions/1/deactivate')).body;
    expect(first.versions[0].state).toBe('deactivated');
    expect(await kids('rolling')).toEqual([4, 3, 1].map((n) => `${key.id}:${n}`));
    expect((await h.call('PATCH', '/v1/keys/rolling', { minDecryptionVersion: 3 })).status).toBe(200);
    expect(await kids('rolling')).toEqual([4, 3].map((n) => `${key.id}:${n}`));
  });

  it('answers JWKs that match the public-key endpoint for ml-dsa-65 (AKP) and rsa-oaep (use enc)', async () => {
    await h.createKey('pq-signer', 'ml-dsa-65');
    const pq = (await h.call('GET', '/v1/keys/pq-signer/jwks')).body.keys;
    const pqPublic = (await h.call('GET', '/v1/keys/pq-signer/public-key')).body.jwk;
    expect(pq).toHaveLength(1);
    expect(pq[0]).toEqual({ ...pqPublic, kid: expect.stringMatching(/:1$/), alg: 'ML-DSA-65', use: 'sig' });
    expect(Buffer.from(pq[0].pub, 'base64url')).toHaveLength(1952);

    await h.createKey('wrapping', 'rsa-oaep-3072');
    const rsa = (await h.call('GET', '/v1/keys/wrapping/jwks')).body.keys;
    const rsaPublic = (await h.call('GET', '/v1/keys/wrapping/public-key')).body.jwk;
    expect(rsa).toEqual([{ ...rsaPublic, kid: expect.stringMatching(/:1$/), alg: 'RSA-OAEP-256', use: 'enc' }]);
    expect(rsa[0]).toMatchObject({ kty: 'RSA', e: 'AQAB' });
  });

  it('sets Cache-Control and a strong ETag, and answers 304 to If-None-Match until the set changes', async () => {
    await h.createKey('cached', 'ecdsa-p256');
    const first = await h.call('GET', '/v1/keys/cached/jwks');
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('max-age=60');
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect((await h.call('GET', '/v1/keys/cached/jwks')).headers.etag).toBe(etag);

    const unchanged = await h.call('GET', '/v1/keys/cached/jwks', undefined, h.adminToken, { 'if-none-match': `"x", W/${etag}` });
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.etag).toBe(etag);

    await h.call('POST', '/v1/keys/cached/rotate', {});
    const changed = await h.call('GET', '/v1/keys/cached/jwks', undefined, h.adminToken, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body.keys).toHaveLength(2);
  });

  it('refuses symmetric keys, unknown keys and unknown query parameters', async () => {
    await h.createKey('sym', 'aes-256-gcm');
    await h.createKey('mac-key', 'hmac-sha256');
    for (const name of ['sym', 'mac-key']) {
      const r = await h.call('GET', `/v1/keys/${name}/jwks`);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_request', message: `key '${name}' is symmetric and has no public keys` });
    }
    expect((await h.call('GET', '/v1/keys/nope/jwks')).status).toBe(404);
    const extra = await h.call('GET', '/v1/keys/sym/jwks?x=1');
    expect(extra.status).toBe(400);
    expect(extra.body.error.message).toMatch(/^querystring/);
  });

  it('is open to key-users with a public-key or verify grant, key-admins, auditors and the owner; refused to others', async () => {
    await h.createKey('authz-signer', 'ed25519', { owner: 'svc-owner', environment: 'prod' });
    const verifier = await h.principal('jwks-verifier', ['key-user']);
    const publisher = await h.principal('jwks-publisher', ['key-user']);
    const signerOnly = await h.principal('jwks-signer-only', ['key-user']);
    const elsewhere = await h.principal('jwks-dev-only', ['key-user'], { environments: ['dev'] });
    const ungranted = await h.principal('jwks-ungranted', ['key-user']);
    const keyAdmin = await h.principal('jwks-key-admin', ['key-admin']);
    const auditor = await h.principal('jwks-auditor', ['auditor']);
    const approver = await h.principal('jwks-approver', ['approver']);
    const owner = await h.principal('svc-owner', ['key-user']);
    await h.grant('authz-signer', 'jwks-verifier', ['verify']);
    await h.grant('authz-signer', 'jwks-publisher', ['public-key']);
    await h.grant('authz-signer', 'jwks-signer-only', ['sign']);
    await h.grant('authz-signer', 'jwks-dev-only', ['verify']);

    for (const token of [verifier, publisher, keyAdmin, auditor, owner, h.adminToken]) {
      const r = await h.call('GET', '/v1/keys/authz-signer/jwks', undefined, token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.keys).toHaveLength(1);
    }
    for (const token of [signerOnly, elsewhere, ungranted, approver]) {
      const r = await h.call('GET', '/v1/keys/authz-signer/jwks', undefined, token);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    expect((await h.call('GET', '/v1/keys/authz-signer/jwks', undefined, null)).status).toBe(401);

    // jose's fetch carries the configured Authorization header; a refused one fails the fetch.
    const { jws } = await keywardJws('authz-signer', (await h.call('GET', '/v1/keys/authz-signer')).body as Signer, { ok: true });
    expect((await compactVerify(jws, remote('authz-signer', verifier))).protectedHeader.alg).toBe('EdDSA');
    await expect(compactVerify(jws, remote('authz-signer', signerOnly))).rejects.toBeInstanceOf(joseErrors.JOSEError);

    const audit = await h.store.listAudit(0, 1_000_000);
    const records = audit.filter((r) => r.action === 'key.jwks' && r.key === 'authz-signer');
    expect(records.filter((r) => r.outcome === 'denied')).toHaveLength(5);
    // Reading the set is not a cryptographic operation: it never counts as usage.
    expect(audit.some((r) => r.action.startsWith('crypto.') && r.key === 'authz-signer' && r.actor === 'jwks-verifier')).toBe(false);
  });
});
