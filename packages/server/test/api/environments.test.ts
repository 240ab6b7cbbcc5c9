import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness, type Response } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

/**
 * Environments bound every principal, whatever its roles: a key is never
 * used, read, managed or created by a principal outside the key's
 * environment (a key being created or moved counts in its new one), and a
 * listing shows only the principal's environments. Every refusal is 403 and
 * changes nothing.
 */
describe.each(STORE_KINDS)('environments (%s)', (store) => {
  let h: Harness;
  let devAdmin: string;
  let devKeyAdmin: string;
  let devUser: string;
  let auditor: string;

  /** 403, and refused for the environment (the audit record's reason), not for a missing role or grant. */
  const forbidden = async (r: Response) => {
    expect(r.status, JSON.stringify(r.body)).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    const [record] = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.requestId === r.body.error.requestId);
    expect(record?.details.reason).toMatch(/^'[a-z-]+' is not scoped to environment (prod|staging)$/);
  };

  beforeAll(async () => {
    h = await Harness.start({ store });
    devAdmin = await h.principal('dev-admin', ['admin'], { environments: ['dev', 'test'] });
    devKeyAdmin = await h.principal('dev-key-admin', ['key-admin'], { environments: ['dev'] });
    devUser = await h.principal('dev-user', ['key-user'], { environments: ['dev'] });
    auditor = await h.principal('dev-auditor', ['auditor'], { environments: ['dev'] });
    await h.createKey('prod-key', 'aes-256-gcm', { environment: 'prod' });
    await h.createKey('dev-key', 'aes-256-gcm', { environment: 'dev' });
    await h.createKey('staging-key', 'aes-256-gcm', { environment: 'staging' });
    // Grants on both: only the environment stands between the user and the prod key.
    await h.grant('prod-key', 'dev-user', ['encrypt', 'decrypt']);
    await h.grant('dev-key', 'dev-user', ['encrypt', 'decrypt']);
  });

  afterAll(async () => h.close());

  it('a principal scoped to dev or test creates no prod key, admin included; a key without an environment is prod', async () => {
    for (const token of [devAdmin, devKeyAdmin]) {
      const before = (await h.call('GET', '/v1/keys?limit=1000')).body.keys.length;
      await forbidden(
        await h.call('POST', '/v1/keys', { name: 'x-prod', algorithm: 'aes-256-gcm', owner: 't', environment: 'prod' }, token),
      );
      await forbidden(await h.call('POST', '/v1/keys', { name: 'x-default', algorithm: 'aes-256-gcm', owner: 't' }, token));
      expect((await h.call('GET', '/v1/keys?limit=1000')).body.keys.length).toBe(before);
    }
    const created = await h.call(
      'POST',
      '/v1/keys',
      { name: 'x-dev', algorithm: 'aes-256-gcm', owner: 't', environment: 'dev' },
      devKeyAdmin,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  it('no operation on a key outside the principal’s environments: read, manage, grant, use, report', async () => {
    const attempts: Array<[string, string, unknown, string]> = [
      ['GET', '/v1/keys/prod-key', undefined, devAdmin],
      ['PATCH', '/v1/keys/prod-key', { description: 'mine now' }, devAdmin],
      ['POST', '/v1/keys/prod-key/rotate', {}, devAdmin],
      ['POST', '/v1/keys/prod-key/disable', {}, devKeyAdmin],
      ['POST', '/v1/keys/prod-key/schedule-deletion', { days: 30 }, devKeyAdmin],
      ['POST', '/v1/keys/prod-key/grants', { principal: 'dev-user', operations: ['mac'] }, devKeyAdmin],
      ['GET', '/v1/keys/prod-key/grants', undefined, devKeyAdmin],
      ['GET', '/v1/keys/prod-key/usage', undefined, auditor],
      ['POST', '/v1/keys/prod-key/encrypt', { plaintext: b64('hello') }, devUser],
      ['POST', '/v1/keys/staging-key/encrypt', { plaintext: b64('hello') }, devUser],
    ];
    const before = (await h.call('GET', '/v1/keys/prod-key')).body;
    for (const [method, path, body, token] of attempts) await forbidden(await h.call(method, path, body, token));
    expect((await h.call('GET', '/v1/keys/prod-key')).body).toEqual(before);
    // The same principals, in their own environment.
    expect((await h.call('POST', '/v1/keys/dev-key/encrypt', { plaintext: b64('hello') }, devUser)).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/dev-key/rotate', {}, devKeyAdmin)).status).toBe(200);
    expect((await h.call('GET', '/v1/keys/dev-key', undefined, devAdmin)).status).toBe(200);
  });

  it('moving a key into an environment the principal is not scoped to is refused and changes nothing', async () => {
    await h.createKey('mover', 'aes-256-gcm', { environment: 'dev' });
    const before = (await h.call('GET', '/v1/keys/mover')).body;
    await forbidden(await h.call('PATCH', '/v1/keys/mover', { environment: 'prod', description: 'promoted' }, devKeyAdmin));
    await forbidden(await h.call('PATCH', '/v1/keys/mover', { environment: 'prod' }, devAdmin));
    expect((await h.call('GET', '/v1/keys/mover')).body).toEqual(before);
    const moved = await h.call('PATCH', '/v1/keys/mover', { environment: 'test' }, devAdmin);
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.environment).toBe('test');
  });

  it('a listing shows only the principal’s environments; asking for another one is refused', async () => {
    const names = async (token: string, query = '') =>
      (await h.call('GET', `/v1/keys?limit=1000${query}`, undefined, token)).body.keys.map((k: Json) => [k.name, k.environment]);
    for (const [, environment] of await names(auditor)) expect(environment).toBe('dev');
    expect((await names(auditor)).map(([name]: string[]) => name)).toContain('dev-key');
    for (const [, environment] of await names(devAdmin)) expect(['dev', 'test']).toContain(environment);
    // Unscoped (all four environments): everything.
    expect((await names(h.adminToken as string)).map(([, e]: string[]) => e)).toEqual(expect.arrayContaining(['prod', 'dev', 'staging']));
    await forbidden(await h.call('GET', '/v1/keys?environment=prod', undefined, auditor));
    expect(await names(auditor, '&environment=dev')).toEqual(await names(auditor));
  });
});
