import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
  await h.createKey('app-key', 'aes-256-gcm', { environment: 'prod', owner: 'team-app' });
  await h.createKey('dev-key', 'aes-256-gcm', { environment: 'dev', owner: 'team-app' });
});
afterAll(async () => h.close());

const encrypt = (key: string, token: string) => h.call('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('authz-plaintext') }, token);

describe('roles and grants', () => {
  it('a key-user without a grant gets 403; with one it succeeds, for the granted operations only', async () => {
    const token = await h.principal('svc-a', ['key-user']);
    const denied = await encrypt('app-key', token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    await h.grant('app-key', 'svc-a', ['encrypt']);
    const ok = await encrypt('app-key', token);
    expect(ok.status).toBe(200);
    const dec = await h.call('POST', '/v1/keys/app-key/decrypt', { ciphertext: ok.body.ciphertext }, token);
    expect(dec.status).toBe(403);
    // A key-user may read the metadata of a key it holds a grant for, but not manage it.
    expect((await h.call('GET', '/v1/keys/app-key', undefined, token)).status).toBe(200);
    expect((await h.call('GET', '/v1/keys/dev-key', undefined, token)).status).toBe(403);
    expect((await h.call('POST', '/v1/keys/app-key/rotate', {}, token)).status).toBe(403);
    expect((await h.call('GET', '/v1/keys', undefined, token)).status).toBe(403);
  });

  it('a key-admin manages keys and grants but cannot encrypt, even with a grant', async () => {
    const token = await h.principal('kadmin', ['key-admin']);
    const created = await h.call('POST', '/v1/keys', { name: 'admin-made', algorithm: 'ed25519', owner: 'team-app' }, token);
    expect(created.status).toBe(201);
    expect((await h.call('POST', '/v1/keys/admin-made/rotate', {}, token)).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/app-key/grants', { principal: 'kadmin', operations: ['encrypt'] }, token)).status).toBe(201);
    const r = await encrypt('app-key', token);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect((await h.call('POST', '/v1/principals', { id: 'sneaky', kind: 'user', roles: ['admin'] }, token)).status).toBe(403);
  });

  it('a grant to a team reaches every member; removing it takes effect at once', async () => {
    await h.call('POST', '/v1/principals', { id: 'team-ops', kind: 'team' });
    const member = await h.principal('svc-member', ['key-user'], { teams: ['team-ops'] });
    const outsider = await h.principal('svc-outsider', ['key-user']);
    const grant = await h.grant('app-key', 'team-ops', ['encrypt', 'decrypt']);
    expect((await encrypt('app-key', member)).status).toBe(200);
    expect((await encrypt('app-key', outsider)).status).toBe(403);
    const list = await h.call('GET', '/v1/keys/app-key/grants');
    expect(list.body.grants.map((g: any) => g.principal)).toContain('team-ops');
    expect((await h.call('DELETE', `/v1/keys/app-key/grants/${grant.id}`)).status).toBe(204);
    expect((await encrypt('app-key', member)).status).toBe(403);
    expect((await h.call('DELETE', `/v1/keys/app-key/grants/${grant.id}`)).body.error.code).toBe('not_found');
  });

  it('a key-user scoped to dev cannot use a prod key even with a grant', async () => {
    const token = await h.principal('svc-dev', ['key-user'], { environments: ['dev'] });
    await h.grant('app-key', 'svc-dev', ['encrypt']);
    await h.grant('dev-key', 'svc-dev', ['encrypt']);
    expect((await encrypt('app-key', token)).status).toBe(403);
    expect((await encrypt('dev-key', token)).status).toBe(200);
  });

  it('an auditor reads metadata and nothing else', async () => {
    const token = await h.principal('auditor-1', ['auditor']);
    expect((await h.call('GET', '/v1/keys', undefined, token)).status).toBe(200);
    expect((await h.call('GET', '/v1/keys/app-key', undefined, token)).status).toBe(200);
    expect((await h.call('GET', '/v1/principals', undefined, token)).status).toBe(200);
    expect((await encrypt('app-key', token)).status).toBe(403);
    expect((await h.call('PATCH', '/v1/keys/app-key', { description: 'x' }, token)).status).toBe(403);
  });

  it("the owner team edits its key's metadata but cannot move it to another environment or owner", async () => {
    const token = await h.principal('owner-person', ['approver'], { teams: ['team-app'] });
    expect((await h.call('PATCH', '/v1/keys/app-key', { description: 'owned' }, token)).status).toBe(200);
    expect((await h.call('PATCH', '/v1/keys/app-key', { environment: 'dev' }, token)).status).toBe(403);
    expect((await h.call('PATCH', '/v1/keys/app-key', { owner: 'owner-person' }, token)).status).toBe(403);
    expect((await h.call('POST', '/v1/keys/app-key/disable', undefined, token)).status).toBe(403);
  });

  it('auth/self names the principal and its roles', async () => {
    const token = await h.principal('svc-self', ['key-user', 'approver'], { teams: ['team-x'] });
    const r = await h.call('GET', '/v1/auth/self', undefined, token);
    expect(r.body).toMatchObject({ principal: { id: 'svc-self', kind: 'service', teams: ['team-x'] }, roles: ['key-user', 'approver'] });
    expect(r.body.principal.environments).toEqual(['prod', 'staging', 'dev', 'test']);
  });
});

describe('tokens', () => {
  it('a revoked token is refused at once', async () => {
    const p = await h.call('POST', '/v1/principals', { id: 'svc-rev', kind: 'service', roles: ['key-user'] });
    expect(p.status).toBe(201);
    const t = await h.call('POST', '/v1/principals/svc-rev/tokens', { ttl: '1h', description: 'ci' });
    expect(t.body.token).toMatch(/^kw_[A-Za-z0-9_-]{43}$/);
    expect(t.body.expiresAt).toBe('2026-06-01T01:00:00.000Z');
    await h.grant('app-key', 'svc-rev', ['encrypt']);
    expect((await encrypt('app-key', t.body.token)).status).toBe(200);
    expect((await h.call('DELETE', `/v1/tokens/${t.body.id}`)).status).toBe(204);
    const after = await encrypt('app-key', t.body.token);
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('unauthenticated');
    expect((await h.call('DELETE', '/v1/tokens/00000000-0000-4000-8000-000000000000')).body.error.code).toBe('not_found');
  });

  it('an expired token is refused (clock moved, no sleeping)', async () => {
    await h.call('POST', '/v1/principals', { id: 'svc-exp', kind: 'service', roles: ['key-user'] });
    const t = await h.call('POST', '/v1/principals/svc-exp/tokens', { ttl: '30m' });
    expect((await h.call('GET', '/v1/auth/self', undefined, t.body.token)).status).toBe(200);
    h.clock.advance(31 * 60_000);
    expect((await h.call('GET', '/v1/auth/self', undefined, t.body.token)).status).toBe(401);
  });

  it('the token is stored only as a hash', async () => {
    await h.call('POST', '/v1/principals', { id: 'svc-hash', kind: 'service' });
    const t = await h.call('POST', '/v1/principals/svc-hash/tokens', {});
    const rows = await h.testStore.raw('SELECT * FROM tokens WHERE id = ?', [t.body.id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(t.body.token);
  });

  it('missing, malformed and unknown credentials are 401', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, { authorization: 'Bearer kw_unknown' }]) {
      const r = await h.app.inject({ method: 'GET', url: '/v1/keys', headers });
      expect(r.statusCode).toBe(401);
      expect(JSON.parse(r.body).error.code).toBe('unauthenticated');
    }
  });
});
