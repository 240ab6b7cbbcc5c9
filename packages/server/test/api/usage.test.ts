import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

let h: Harness;
let svcA: string;
let svcB: string;
const T0 = '2026-06-01T00:00:00.000Z';
const T1 = '2026-06-01T01:00:00.000Z';

beforeAll(async () => {
  h = await Harness.start();
  svcA = await h.principal('svc-a', ['key-user']);
  svcB = await h.principal('svc-b', ['key-user']);
  await h.createKey('orders', 'aes-256-gcm', { owner: 'team-orders' });
  await h.grant('orders', 'svc-a', ['encrypt', 'decrypt']);
  await h.grant('orders', 'svc-b', ['decrypt']);
  await h.createKey('orders-other', 'aes-256-gcm');
  await h.grant('orders-other', 'svc-a', ['encrypt']);

  const ok = async (path: string, body: unknown, token: string) => {
    const r = await h.call('POST', path, body, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  // T0, version 1: svc-a encrypts three times, svc-b decrypts two of them.
  const v1: string[] = [];
  for (let i = 0; i < 3; i++) v1.push((await ok('/v1/keys/orders/encrypt', { plaintext: b64(`order ${i}`) }, svcA)).ciphertext);
  for (const ciphertext of v1.slice(0, 2)) await ok('/v1/keys/orders/decrypt', { ciphertext }, svcB);
  // Another key's traffic is not this key's.
  await ok('/v1/keys/orders-other/encrypt', { plaintext: b64('x') }, svcA);

  // T1: rotate; version 2 encrypts (two single, one batch of two), svc-a still decrypts with version 1.
  h.clock.advance(3_600_000);
  expect((await h.call('POST', '/v1/keys/orders/rotate', {})).status).toBe(200);
  await ok('/v1/keys/orders/encrypt', { plaintext: b64('a') }, svcA);
  const v2 = (await ok('/v1/keys/orders/encrypt', { plaintext: b64('b') }, svcA)).ciphertext;
  await ok('/v1/keys/orders/encrypt', { items: [{ plaintext: b64('c') }, { plaintext: b64('d') }] }, svcA);
  await ok('/v1/keys/orders/decrypt', { ciphertext: v1[2] }, svcA);
  await ok('/v1/keys/orders/decrypt', { ciphertext: v2 }, svcB);

  // Neither refused nor failed operations count, nor management actions.
  expect((await h.call('POST', '/v1/keys/orders/encrypt', { plaintext: b64('no') }, svcB)).status).toBe(403);
  expect((await h.call('POST', '/v1/keys/orders/decrypt', { ciphertext: `${v2.slice(0, -4)}AAAA` }, svcB)).status).toBe(400);
  expect((await h.call('GET', '/v1/keys/orders')).status).toBe(200);

  // Version 3 exists but is never used.
  h.clock.advance(3_600_000);
  expect((await h.call('POST', '/v1/keys/orders/rotate', {})).status).toBe(200);
});
afterAll(async () => h.close());

describe('GET /v1/keys/{name}/usage', () => {
  it('counts operations per version by principal and operation, every version newest first', async () => {
    const r = await h.call('GET', '/v1/keys/orders/usage');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({
      key: 'orders',
      since: null,
      versions: [
        { version: 3, state: 'active', total: 0, lastUsedAt: null, byPrincipal: [] },
        {
          version: 2,
          state: 'active',
          total: 5,
          lastUsedAt: T1,
          byPrincipal: [
            { principal: 'svc-a', operations: { encrypt: 4 }, lastUsedAt: T1 },
            { principal: 'svc-b', operations: { decrypt: 1 }, lastUsedAt: T1 },
          ],
        },
        {
          version: 1,
          state: 'active',
          total: 6,
          lastUsedAt: T1,
          byPrincipal: [
            { principal: 'svc-a', operations: { decrypt: 1, encrypt: 3 }, lastUsedAt: T1 },
            { principal: 'svc-b', operations: { decrypt: 2 }, lastUsedAt: T0 },
          ],
        },
      ],
    });
    const other = await h.call('GET', '/v1/keys/orders-other/usage');
    expect(other.body.versions).toEqual([
      {
        version: 1,
        state: 'active',
        total: 1,
        lastUsedAt: T0,
        byPrincipal: [{ principal: 'svc-a', operations: { encrypt: 1 }, lastUsedAt: T0 }],
      },
    ]);
  });

  it('filters by since (inclusive), normalizing the time to UTC', async () => {
    const r = await h.call('GET', `/v1/keys/orders/usage?since=${encodeURIComponent('2026-06-01T02:30:00+02:00')}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.since).toBe('2026-06-01T00:30:00.000Z');
    expect(r.body.versions.map((v: { total: number }) => v.total)).toEqual([0, 5, 1]);
    expect(r.body.versions[2].byPrincipal).toEqual([{ principal: 'svc-a', operations: { decrypt: 1 }, lastUsedAt: T1 }]);

    const atT1 = await h.call('GET', `/v1/keys/orders/usage?since=${T1}`);
    expect(atT1.body.versions.map((v: { total: number }) => v.total)).toEqual([0, 5, 1]);
    const later = await h.call('GET', '/v1/keys/orders/usage?since=2026-06-01T01:00:00.001Z');
    expect(later.body.versions.map((v: { total: number }) => v.total)).toEqual([0, 0, 0]);
    const before = await h.call('GET', '/v1/keys/orders/usage?since=2020-01-01T00:00:00Z');
    expect(before.body.versions.map((v: { total: number }) => v.total)).toEqual([0, 5, 6]);
  });

  it('refuses an invalid since naming querystring.since', async () => {
    for (const since of ['yesterday', '2026-06-01', '2026-02-30T00:00:00Z', '2026-06-01T24:00:00Z', '2026-06-01T00:00:00+25:00', '']) {
      const r = await h.call('GET', `/v1/keys/orders/usage?since=${encodeURIComponent(since)}`);
      expect(r.status, since).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message, since).toMatch(/^querystring\.since: /);
    }
    const extra = await h.call('GET', '/v1/keys/orders/usage?until=2026-06-01T00:00:00Z');
    expect(extra.status).toBe(400);
  });

  it('is open to key-admins, auditors, the owner and admins; refused to key-users', async () => {
    const keyAdmin = await h.principal('usage-key-admin', ['key-admin']);
    const auditor = await h.principal('usage-auditor', ['auditor']);
    const owner = await h.principal('team-orders', ['approver']);
    for (const token of [keyAdmin, auditor, owner, h.adminToken]) {
      const r = await h.call('GET', '/v1/keys/orders/usage', undefined, token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.versions).toHaveLength(3);
    }
    for (const token of [svcA, svcB]) {
      const r = await h.call('GET', '/v1/keys/orders/usage', undefined, token);
      expect(r.status).toBe(403);
      expect(r.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('key.usage') });
    }
    expect((await h.call('GET', '/v1/keys/orders/usage', undefined, null)).status).toBe(401);
    expect((await h.call('GET', '/v1/keys/missing/usage')).status).toBe(404);
  });

  it('is documented in the OpenAPI document with jwks', async () => {
    const { paths } = (await h.call('GET', '/v1/openapi.json', undefined, null)).body;
    expect(paths['/v1/keys/{name}/jwks'].get.summary).toMatch(/JWK Set/);
    const parameters = paths['/v1/keys/{name}/usage'].get.parameters as Array<{ in: string; name: string }>;
    expect(parameters.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(['since']);
  });

  it('does not count a report reading as usage', async () => {
    const before = (await h.call('GET', '/v1/keys/orders/usage')).body;
    await h.call('GET', '/v1/keys/orders/usage');
    expect((await h.call('GET', '/v1/keys/orders/usage')).body).toEqual(before);
  });
});
