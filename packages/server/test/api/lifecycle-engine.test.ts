import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

const DAY = 86_400_000;
let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => h.close());

async function events(key: string) {
  const rows = await h.store.listEvents(0, 100_000);
  return rows.filter((e) => e.key === key);
}

describe('rotation by time', () => {
  it('a year of a key with a 30-day period: exactly the expected versions, states and events', async () => {
    const created = await h.createKey('yearly', 'aes-256-gcm', { rotationPeriod: '30d' });
    const start = new Date(created.createdAt).getTime();
    for (let d = 1; d <= 365; d++) {
      h.clock.advance(DAY);
      await h.keyward.scheduler.runOnce();
    }
    const key = (await h.call('GET', '/v1/keys/yearly')).body;
    expect(key.primaryVersion).toBe(13);
    expect(key.versions.map((v: any) => [v.version, v.state, v.trigger])).toEqual([
      [1, 'active', 'created'],
      ...Array.from({ length: 12 }, (_, i) => [i + 2, 'active', 'time']),
    ]);
    for (const v of key.versions.slice(1)) {
      expect(new Date(v.activatedAt).getTime() - start).toBe((v.version - 1) * 30 * DAY);
    }
    expect(key.nextRotationAt).toBe(new Date(start + 390 * DAY).toISOString());
    const log = await events('yearly');
    expect(log.map((e) => e.type)).toEqual(['key.created', ...Array(12).fill('key.rotated')]);
    expect(log.map((e) => e.id)).toEqual([...log.map((e) => e.id)].sort((a, b) => a - b));
    expect(log.slice(1).map((e) => e.data.trigger)).toEqual(Array(12).fill('time'));
    const audit = (await h.audit()).filter((a) => a.key === 'yearly' && a.action === 'key.rotate');
    expect(audit).toHaveLength(12);
    expect(audit[0]).toMatchObject({ actor: 'keyward', outcome: 'success', details: { trigger: 'time' } });
    // A second run at the same time does nothing (idempotent).
    const again = await h.keyward.scheduler.runOnce();
    expect(again.steps).toEqual({});
  });

  it('prepublishes the next version pre_active, then activates it on time; with an originator period old versions deactivate', async () => {
    await h.createKey('prepub', 'ed25519', { rotationPeriod: '30d', prepublishPeriod: '7d', originatorPeriod: '45d' });
    h.clock.advance(22 * DAY);
    await h.keyward.scheduler.runOnce();
    expect((await h.call('GET', '/v1/keys/prepub')).body.versions).toHaveLength(1);
    h.clock.advance(DAY);
    await h.keyward.scheduler.runOnce();
    let key = (await h.call('GET', '/v1/keys/prepub')).body;
    expect(key.primaryVersion).toBe(1);
    expect(key.versions[1]).toMatchObject({ version: 2, state: 'pre_active', activatedAt: null });
    expect(key.versions[1].publicKey).toMatch(/BEGIN PUBLIC KEY/);
    expect((await h.call('POST', '/v1/keys/prepub/sign', { message: b64('not yet') })).body.keyVersion).toBe(1);
    h.clock.advance(7 * DAY);
    await h.keyward.scheduler.runOnce();
    key = (await h.call('GET', '/v1/keys/prepub')).body;
    expect(key.primaryVersion).toBe(2);
    expect(key.versions[1]).toMatchObject({ state: 'active', activationDate: null });
    expect((await h.call('POST', '/v1/keys/prepub/sign', { message: b64('now') })).body.keyVersion).toBe(2);
    h.clock.advance(15 * DAY); // day 45: version 1's originator period is over
    await h.keyward.scheduler.runOnce();
    key = (await h.call('GET', '/v1/keys/prepub')).body;
    expect(key.versions[0].state).toBe('deactivated');
  });

  it('rotate with an activationDate creates a pre_active version the scheduler activates', async () => {
    await h.createKey('later');
    const when = new Date(h.clock.now().getTime() + 2 * DAY).toISOString();
    const r = await h.call('POST', '/v1/keys/later/rotate', { activationDate: when });
    expect(r.body.primaryVersion).toBe(1);
    expect(r.body.versions[1]).toMatchObject({ state: 'pre_active', activationDate: when, trigger: 'manual' });
    expect((await h.call('POST', '/v1/keys/later/rotate', { activationDate: when })).body.error.code).toBe('invalid_state');
    expect((await h.call('POST', '/v1/keys/later/rotate', { activationDate: '2020-01-01T00:00:00Z' })).body.error.message).toMatch(
      /^activationDate/,
    );
    h.clock.advance(2 * DAY);
    await h.keyward.scheduler.runOnce();
    expect((await h.call('GET', '/v1/keys/later')).body.primaryVersion).toBe(2);
  });
});

describe('rotation by use', () => {
  it('32 parallel clients, maxUsesPerVersion 1000: no version used more than 1000 times, no request fails', async () => {
    await h.createKey('busy', 'aes-256-gcm', { maxUsesPerVersion: 1000 });
    const total = 2600;
    let next = 0;
    const failures: unknown[] = [];
    const versions: number[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) {
          next++;
          const r = await h.call('POST', '/v1/keys/busy/encrypt', { plaintext: b64('x') });
          if (r.status !== 200) failures.push(r.body);
          else versions.push(r.body.keyVersion);
        }
      }),
    );
    expect(failures).toEqual([]);
    const key = (await h.call('GET', '/v1/keys/busy')).body;
    expect(key.primaryVersion).toBe(3);
    expect(key.versions.map((v: any) => v.uses)).toEqual([1000, 1000, 600]);
    expect(key.versions.slice(1).map((v: any) => v.trigger)).toEqual(['use', 'use']);
    for (const n of [1, 2, 3]) expect(versions.filter((v) => v === n).length).toBe(n === 3 ? 600 : 1000);
    // Use counts survive a restart and the limit still holds.
    await h.restart();
    const after = await h.call('POST', '/v1/keys/busy/encrypt', { plaintext: b64('x') });
    expect(after.body.keyVersion).toBe(3);
    expect((await h.call('GET', '/v1/keys/busy')).body.versions[2].uses).toBe(601);
  });
});

describe('minimum decryption version and version destruction', () => {
  it('versions below minDecryptionVersion refuse to decrypt, reversibly; a destroyed version is gone for good', async () => {
    await h.createKey('floor');
    const v1 = (await h.call('POST', '/v1/keys/floor/encrypt', { plaintext: b64('old secret') })).body.ciphertext;
    await h.call('POST', '/v1/keys/floor/rotate');
    const raised = await h.call('PATCH', '/v1/keys/floor', { minDecryptionVersion: 2 });
    expect(raised.body.minDecryptionVersion).toBe(2);
    const refused = await h.call('POST', '/v1/keys/floor/decrypt', { ciphertext: v1 });
    expect(refused.body.error).toMatchObject({
      code: 'invalid_state',
      message: "key version 1 of 'floor' is below the minimum decryption version 2 and cannot decrypt",
    });
    expect((await h.call('PATCH', '/v1/keys/floor', { minDecryptionVersion: 3 })).body.error.message).toMatch(/^minDecryptionVersion/);
    await h.call('PATCH', '/v1/keys/floor', { minDecryptionVersion: 1 });
    expect((await h.call('POST', '/v1/keys/floor/decrypt', { ciphertext: v1 })).status).toBe(200);

    expect((await h.call('POST', '/v1/keys/floor/versions/1/destroy')).body.error.message).toBe(
      "key version 1 of 'floor' is active and cannot become destroyed",
    );
    expect((await h.call('POST', '/v1/keys/floor/versions/2/destroy')).body.error.message).toMatch(/primary version/);
    await h.call('POST', '/v1/keys/floor/versions/1/deactivate');
    const destroyed = await h.call('POST', '/v1/keys/floor/versions/1/destroy');
    expect(destroyed.body.versions[0]).toMatchObject({ state: 'destroyed', destroyedAt: h.clock.now().toISOString() });
    const gone = await h.call('POST', '/v1/keys/floor/decrypt', { ciphertext: v1 });
    expect(gone.body.error).toMatchObject({ code: 'invalid_state' });
    expect(gone.body.error.message).toBe("key version 1 of 'floor' is destroyed and cannot decrypt");
    const row = await h.testStore.raw('SELECT material FROM key_versions WHERE version = 1 AND key_id = ?', [destroyed.body.id]);
    expect(row[0]?.material).toBeNull();
  });
});

describe('scheduled deletion', () => {
  it('at the deletion date the scheduler crypto-shreds the key; a tombstone stays; operations answer 409 naming it', async () => {
    const k = await h.createKey('shred', 'hmac-sha256');
    await h.call('POST', '/v1/keys/shred/rotate');
    await h.call('POST', '/v1/keys/shred/versions/1/compromise', { reason: 'test' });
    const materials = await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ?', [k.id]);
    expect(materials.every((r) => r.material !== null)).toBe(true);
    await h.call('POST', '/v1/keys/shred/schedule-deletion', { days: 7 });
    h.clock.advance(7 * DAY - 1000);
    await h.keyward.scheduler.runOnce();
    expect((await h.call('GET', '/v1/keys/shred')).body.state).toBe('pending_deletion');
    h.clock.advance(1000);
    await h.keyward.scheduler.runOnce();
    const key = (await h.call('GET', '/v1/keys/shred')).body;
    expect(key.state).toBe('destroyed');
    expect(key.versions.map((v: any) => v.state)).toEqual(['destroyed_compromised', 'destroyed']);
    const r = await h.call('POST', '/v1/keys/shred/mac', { message: b64('x') });
    expect(r.body.error).toMatchObject({ code: 'invalid_state', message: "key 'shred' is destroyed and cannot be used" });
    expect((await h.call('POST', '/v1/keys/shred/cancel-deletion')).body.error.code).toBe('invalid_state');
    expect((await h.call('POST', '/v1/keys/shred/enable')).body.error.code).toBe('invalid_state');
    const after = await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ?', [k.id]);
    expect(after.map((row) => row.material)).toEqual([null, null]);
    expect((await events('shred')).at(-1)?.type).toBe('key.destroyed');
  });
});
