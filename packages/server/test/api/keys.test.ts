import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => h.close());

describe('keys', () => {
  it('creates a key with version 1 active and class defaults', async () => {
    const key = await h.createKey('payments-db', 'aes-256-gcm', {
      class: 'critical',
      tags: { app: 'payments' },
      description: 'card vault',
    });
    expect(key).toMatchObject({
      name: 'payments-db',
      namespace: 'default',
      algorithm: 'aes-256-gcm',
      usage: 'encrypt',
      state: 'enabled',
      owner: 'team-test',
      class: 'critical',
      environment: 'prod',
      rotationPeriod: '90d',
      primaryVersion: 1,
      exportable: false,
      deletionWindowDays: 30,
      deletionDate: null,
      tags: { app: 'payments' },
    });
    expect(key.nextRotationAt).toBe('2026-08-30T00:00:00.000Z');
    expect(key.versions).toHaveLength(1);
    expect(key.versions[0]).toMatchObject({
      version: 1,
      state: 'active',
      uses: 0,
      publicKey: null,
      activatedAt: '2026-06-01T00:00:00.000Z',
    });
    expect(key.versions[0].fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
  });

  it('gets a key with its versions and counts uses', async () => {
    await h.createKey('counted');
    for (let i = 0; i < 3; i++) expect((await h.call('POST', '/v1/keys/counted/encrypt', { plaintext: b64('x') })).status).toBe(200);
    const r = await h.call('GET', '/v1/keys/counted');
    expect(r.status).toBe(200);
    expect(r.body.versions[0].uses).toBe(3);
  });

  it('answers 409 conflict for a duplicate name, and allows the same name in another namespace', async () => {
    await h.createKey('dup');
    const again = await h.call('POST', '/v1/keys', { name: 'dup', algorithm: 'aes-256-gcm', owner: 'o' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    const other = await h.call('POST', '/v1/keys', { name: 'dup', algorithm: 'aes-256-gcm', owner: 'o' }, h.adminToken, {
      'x-keyward-namespace': 'team-b',
    });
    expect(other.status).toBe(201);
    expect(other.body.namespace).toBe('team-b');
  });

  it('lists with filters and pages through every key exactly once', async () => {
    for (const [name, env, owner] of [
      ['list-a', 'dev', 'team-x'],
      ['list-b', 'dev', 'team-y'],
      ['list-c', 'test', 'team-x'],
    ] as const) {
      await h.createKey(name, 'hmac-sha256', { environment: env, owner, tags: { tier: name === 'list-b' ? 'gold' : 'silver' } });
    }
    const byOwner = await h.call('GET', '/v1/keys?owner=team-x');
    expect(byOwner.body.keys.map((k: any) => k.name)).toEqual(['list-a', 'list-c']);
    expect(byOwner.body.keys[0].versions).toBeUndefined();
    expect((await h.call('GET', '/v1/keys?environment=dev&algorithm=hmac-sha256')).body.keys.map((k: any) => k.name)).toEqual([
      'list-a',
      'list-b',
    ]);
    expect((await h.call('GET', '/v1/keys?tag=tier:gold')).body.keys.map((k: any) => k.name)).toEqual(['list-b']);
    expect((await h.call('GET', '/v1/keys?q=LIST-')).body.keys).toHaveLength(3);
    expect((await h.call('GET', '/v1/keys?q=%25')).body.keys).toHaveLength(0);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await h.call('GET', `/v1/keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.keys.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.keys.map((k: any) => k.name));
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain('list-c');
    const bad = await h.call('GET', '/v1/keys?cursor=!!!');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^cursor/);
  });

  it('patches metadata and recomputes the next rotation', async () => {
    // Class low: the only shipped class whose standard allows rotation by time to be turned off (below).
    await h.createKey('patched', 'aes-256-gcm', { class: 'low' });
    const r = await h.call('PATCH', '/v1/keys/patched', {
      description: 'new',
      tags: { a: 'b' },
      rotationPeriod: '30d',
      maxUsesPerVersion: 10,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      description: 'new',
      tags: { a: 'b' },
      rotationPeriod: '30d',
      maxUsesPerVersion: 10,
      nextRotationAt: '2026-07-01T00:00:00.000Z',
    });
    const cleared = await h.call('PATCH', '/v1/keys/patched', { rotationPeriod: null });
    expect(cleared.body).toMatchObject({ rotationPeriod: null, nextRotationAt: null });
    expect((await h.call('GET', '/v1/keys?tag=a:b')).body.keys.map((k: any) => k.name)).toEqual(['patched']);
  });

  it('rotates: the new version is primary, the old stays active for decrypt; v1 ciphertext decrypts after two rotations', async () => {
    await h.createKey('rotating');
    const v1 = await h.call('POST', '/v1/keys/rotating/encrypt', { plaintext: b64('first secret'), context: { t: '1' } });
    expect(v1.body.keyVersion).toBe(1);
    const r1 = await h.call('POST', '/v1/keys/rotating/rotate', { reason: 'scheduled' });
    expect(r1.status).toBe(200);
    expect(r1.body.primaryVersion).toBe(2);
    expect(r1.body.versions.map((v: any) => [v.version, v.state])).toEqual([
      [1, 'active'],
      [2, 'active'],
    ]);
    expect((await h.call('POST', '/v1/keys/rotating/rotate')).body.primaryVersion).toBe(3);
    const e3 = await h.call('POST', '/v1/keys/rotating/encrypt', { plaintext: b64('third') });
    expect(e3.body.keyVersion).toBe(3);
    const d1 = await h.call('POST', '/v1/keys/rotating/decrypt', { ciphertext: v1.body.ciphertext, context: { t: '1' } });
    expect(d1.status).toBe(200);
    expect(d1.body).toEqual({ plaintext: b64('first secret'), keyVersion: 1 });
    const rewrapped = await h.call('POST', '/v1/keys/rotating/rewrap', { ciphertext: v1.body.ciphertext, context: { t: '1' } });
    expect(rewrapped.body.keyVersion).toBe(3);
    expect(rewrapped.body.plaintext).toBeUndefined();
    const d3 = await h.call('POST', '/v1/keys/rotating/decrypt', { ciphertext: rewrapped.body.ciphertext, context: { t: '1' } });
    expect(d3.body).toEqual({ plaintext: b64('first secret'), keyVersion: 3 });
  });

  it('disables and enables: a disabled key refuses every operation with 409 invalid_state', async () => {
    await h.createKey('toggled');
    const ct = (await h.call('POST', '/v1/keys/toggled/encrypt', { plaintext: b64('secret-toggle') })).body.ciphertext;
    expect((await h.call('POST', '/v1/keys/toggled/disable')).body.state).toBe('disabled');
    for (const [op, body] of [
      ['encrypt', { plaintext: b64('x') }],
      ['decrypt', { ciphertext: ct }],
      ['rewrap', { ciphertext: ct }],
      ['data-key', {}],
    ] as const) {
      const r = await h.call('POST', `/v1/keys/toggled/${op}`, body);
      expect(r.status, op).toBe(409);
      expect(r.body.error.code).toBe('invalid_state');
      expect(r.body.error.message).toMatch(/'toggled' is disabled/);
    }
    expect((await h.call('POST', '/v1/keys/toggled/enable')).body.state).toBe('enabled');
    expect((await h.call('POST', '/v1/keys/toggled/decrypt', { ciphertext: ct })).status).toBe(200);
  });

  it('deactivates a non-primary version: it decrypts but never encrypts; the primary cannot be deactivated', async () => {
    await h.createKey('deact');
    const ct = (await h.call('POST', '/v1/keys/deact/encrypt', { plaintext: b64('old data here') })).body.ciphertext;
    const primary = await h.call('POST', '/v1/keys/deact/versions/1/deactivate');
    expect(primary.status).toBe(409);
    expect(primary.body.error.message).toMatch(/primary version; rotate/);
    await h.call('POST', '/v1/keys/deact/rotate');
    const r = await h.call('POST', '/v1/keys/deact/versions/1/deactivate');
    expect(r.status).toBe(200);
    expect(r.body.versions[0]).toMatchObject({ version: 1, state: 'deactivated', deactivatedAt: '2026-06-01T00:00:00.000Z' });
    expect((await h.call('POST', '/v1/keys/deact/decrypt', { ciphertext: ct })).body.plaintext).toBe(b64('old data here'));
    const again = await h.call('POST', '/v1/keys/deact/versions/1/deactivate');
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'invalid_state' });
    expect(again.body.error.message).toMatch(/version 1 of 'deact' is deactivated/);
    expect((await h.call('POST', '/v1/keys/deact/versions/9/deactivate')).body.error.code).toBe('not_found');
  });
});
