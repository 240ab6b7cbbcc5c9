import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/store/change.js';
import { b64, Harness } from '../support/harness.js';
import { POSTGRES_URL } from '../support/stores.js';

/**
 * Two Keyward nodes on one PostgreSQL database. Each caches tokens, keys and
 * material; a change committed on one must evict the other's cache.
 */
describe.runIf(POSTGRES_URL !== null)('two nodes on one PostgreSQL database', () => {
  let a: Harness;
  let b: Harness;
  let events: ChangeEvent[] = [];

  beforeAll(async () => {
    a = await Harness.start({ store: 'postgres' });
    b = await Harness.joining(a);
    b.store.onChange((event) => events.push(event));
    await waitFor(() => b.store.changesReliable());
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** Waits (bounded) until node B has heard a change, instead of assuming how fast NOTIFY is. */
  async function heard(predicate: (e: ChangeEvent) => boolean): Promise<void> {
    await waitFor(() => events.some(predicate));
    events = [];
  }

  it('a token revoked on one node is refused by the other as soon as the change arrives', async () => {
    await a.createKey('shared');
    const token = await a.principal('svc-cluster', ['key-user']);
    await a.grant('shared', 'svc-cluster', ['encrypt']);
    expect((await b.call('POST', '/v1/keys/shared/encrypt', { plaintext: b64('cached on b') }, token)).status).toBe(200);
    const tokenId = (await b.call('GET', '/v1/auth/self', undefined, token)).status === 200 ? await idOf(a, token) : '';
    expect((await a.call('DELETE', `/v1/tokens/${tokenId}`)).status).toBe(204);
    await heard((e) => e.kind === 'token' && e.id === tokenId);
    expect((await b.call('POST', '/v1/keys/shared/encrypt', { plaintext: b64('x') }, token)).status).toBe(401);
  });

  it('a rotation on one node makes the other encrypt with the new version', async () => {
    await a.createKey('rot-shared');
    await heard((e) => e.kind === 'key' && e.name === 'rot-shared');
    expect((await b.call('POST', '/v1/keys/rot-shared/encrypt', { plaintext: b64('v1') })).body.keyVersion).toBe(1);
    await a.call('POST', '/v1/keys/rot-shared/rotate');
    await heard((e) => e.kind === 'key' && e.name === 'rot-shared');
    expect((await b.call('POST', '/v1/keys/rot-shared/encrypt', { plaintext: b64('v2') })).body.keyVersion).toBe(2);
  });

  it('a disable and a grant removal on one node take effect on the other', async () => {
    await a.createKey('dis-shared');
    const token = await a.principal('svc-cluster-2', ['key-user']);
    const grant = await a.grant('dis-shared', 'svc-cluster-2', ['encrypt']);
    await heard(
      (e) => e.kind === 'key' && e.name === 'dis-shared' && events.filter((x) => x.kind === 'key' && x.name === 'dis-shared').length >= 2,
    );
    expect((await b.call('POST', '/v1/keys/dis-shared/encrypt', { plaintext: b64('ok') }, token)).status).toBe(200);
    await a.call('DELETE', `/v1/keys/dis-shared/grants/${grant.id}`);
    await heard((e) => e.kind === 'key' && e.name === 'dis-shared');
    expect((await b.call('POST', '/v1/keys/dis-shared/encrypt', { plaintext: b64('no') }, token)).status).toBe(403);
    await a.call('POST', '/v1/keys/dis-shared/disable');
    await heard((e) => e.kind === 'key' && e.name === 'dis-shared');
    expect((await b.call('POST', '/v1/keys/dis-shared/encrypt', { plaintext: b64('no') })).body.error.code).toBe('invalid_state');
  });

  it('a version compromised or destroyed on one node stops working on the other', async () => {
    await a.createKey('cv-shared');
    const user = await a.principal('svc-cluster-3', ['key-user']);
    await a.grant('cv-shared', 'svc-cluster-3', ['encrypt', 'decrypt']);
    await heard(
      (e) => e.kind === 'key' && e.name === 'cv-shared' && events.filter((x) => x.kind === 'key' && x.name === 'cv-shared').length >= 2,
    );
    const ct = (await b.call('POST', '/v1/keys/cv-shared/encrypt', { plaintext: b64('cached material on b') }, user)).body.ciphertext;
    expect((await b.call('POST', '/v1/keys/cv-shared/decrypt', { ciphertext: ct }, user)).status).toBe(200);
    await a.call('POST', '/v1/keys/cv-shared/versions/1/compromise', { reason: 'cluster test' });
    await heard((e) => e.kind === 'key' && e.name === 'cv-shared');
    const refused = await b.call('POST', '/v1/keys/cv-shared/decrypt', { ciphertext: ct }, user);
    expect(refused.body.error).toMatchObject({ code: 'invalid_state' });
    expect((await b.call('POST', '/v1/keys/cv-shared/encrypt', { plaintext: b64('x') }, user)).body.keyVersion).toBe(2);
    await a.call('POST', '/v1/keys/cv-shared/versions/1/destroy');
    await heard((e) => e.kind === 'key' && e.name === 'cv-shared');
    // Even the admin (allowed to recover from compromised versions) gets nothing from a destroyed one.
    expect((await b.call('POST', '/v1/keys/cv-shared/decrypt', { ciphertext: ct })).body.error.message).toContain(
      'is destroyed_compromised',
    );
  });

  it('while the listening connection is down, the other node reads through its caches (fails closed), then resets them', async () => {
    await a.createKey('outage');
    const token = await a.principal('svc-outage', ['key-user']);
    await a.grant('outage', 'svc-outage', ['encrypt']);
    expect((await b.call('POST', '/v1/keys/outage/encrypt', { plaintext: b64('cached') }, token)).status).toBe(200);
    await a.testStore.raw(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN keyward_changes' AND datname = current_database()",
    );
    await waitFor(() => !b.store.changesReliable());
    // A change B cannot hear about: B must not trust what it cached.
    expect((await a.call('DELETE', `/v1/tokens/${await idOf(a, token)}`)).status).toBe(204);
    expect((await b.call('POST', '/v1/keys/outage/encrypt', { plaintext: b64('refused') }, token)).status).toBe(401);
    await waitFor(() => b.store.changesReliable());
    await heard((e) => e.kind === 'reset');
  });
});

async function idOf(h: Harness, token: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const rows = await h.testStore.raw('SELECT id FROM tokens WHERE token_hash = ?', [createHash('sha256').update(token).digest('hex')]);
  return rows[0]?.id as string;
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
