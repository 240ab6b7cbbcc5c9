import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => h.close());

describe('compromise', () => {
  it('a compromised primary rotates at once; the old version only decrypts for recovery (admin)', async () => {
    await h.createKey('leaky');
    const user = await h.principal('svc-leaky', ['key-user']);
    await h.grant('leaky', 'svc-leaky', ['encrypt', 'decrypt']);
    const ct = (await h.call('POST', '/v1/keys/leaky/encrypt', { plaintext: b64('before the leak') }, user)).body.ciphertext;
    const r = await h.call('POST', '/v1/keys/leaky/versions/1/compromise', { reason: 'laptop stolen' });
    expect(r.status).toBe(200);
    expect(r.body.primaryVersion).toBe(2);
    expect(r.body.versions.map((v: any) => [v.version, v.state])).toEqual([
      [1, 'compromised'],
      [2, 'active'],
    ]);
    expect(r.body.versions[0].compromisedAt).toBe('2026-06-01T00:00:00.000Z');
    const userDecrypt = await h.call('POST', '/v1/keys/leaky/decrypt', { ciphertext: ct }, user);
    expect(userDecrypt.status).toBe(409);
    expect(userDecrypt.body.error.message).toBe(
      "key version 1 of 'leaky' is compromised; only a principal allowed to recover data may decrypt with it",
    );
    expect((await h.call('POST', '/v1/keys/leaky/decrypt', { ciphertext: ct })).body.plaintext).toBe(b64('before the leak'));
    const rewrapped = await h.call('POST', '/v1/keys/leaky/rewrap', { ciphertext: ct });
    expect(rewrapped.body.keyVersion).toBe(2);
    expect((await h.call('POST', '/v1/keys/leaky/decrypt', { ciphertext: rewrapped.body.ciphertext }, user)).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/leaky/encrypt', { plaintext: b64('after') }, user)).body.keyVersion).toBe(2);
    const again = await h.call('POST', '/v1/keys/leaky/versions/1/compromise', { reason: 'again' });
    expect(again.body.error.code).toBe('invalid_state');
    const records = await h.audit();
    expect(records.find((a) => a.action === 'version.compromise')).toMatchObject({
      keyVersion: 1,
      details: { reason: 'laptop stolen', rotatedTo: 2 },
    });
  });

  it('a compromised signing version stops verifying for ordinary users', async () => {
    await h.createKey('signer', 'ed25519');
    const user = await h.principal('svc-verifier', ['key-user']);
    await h.grant('signer', 'svc-verifier', ['verify']);
    const signature = (await h.call('POST', '/v1/keys/signer/sign', { message: b64('contract') })).body.signature;
    expect((await h.call('POST', '/v1/keys/signer/verify', { message: b64('contract'), signature }, user)).body.valid).toBe(true);
    await h.call('POST', '/v1/keys/signer/versions/1/compromise', { reason: 'key exposed' });
    expect((await h.call('POST', '/v1/keys/signer/verify', { message: b64('contract'), signature }, user)).body).toEqual({
      valid: false,
      keyVersion: null,
    });
    expect((await h.call('POST', '/v1/keys/signer/verify', { message: b64('contract'), signature })).body).toEqual({
      valid: true,
      keyVersion: 1,
    });
  });
});

describe('scheduled deletion', () => {
  it('schedules within 7–30 days and never below the class minimum; cancel returns the key disabled', async () => {
    await h.createKey('doomed', 'aes-256-gcm', { class: 'high' });
    expect((await h.call('POST', '/v1/keys/doomed/schedule-deletion', { days: 10 })).body.error.code).toBe('policy_violation');
    expect((await h.call('POST', '/v1/keys/doomed/schedule-deletion', { days: 31 })).body.error.message).toMatch(/^days: /);
    const r = await h.call('POST', '/v1/keys/doomed/schedule-deletion', { days: 14 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'pending_deletion', deletionDate: '2026-06-15T00:00:00.000Z' });
    const enc = await h.call('POST', '/v1/keys/doomed/encrypt', { plaintext: b64('x') });
    expect(enc.body.error).toMatchObject({ code: 'invalid_state', message: "key 'doomed' is pending_deletion and cannot be used" });
    expect((await h.call('POST', '/v1/keys/doomed/rotate')).body.error.code).toBe('invalid_state');
    expect((await h.call('POST', '/v1/keys/doomed/enable')).body.error.code).toBe('invalid_state');
    expect((await h.call('POST', '/v1/keys/doomed/schedule-deletion')).body.error.code).toBe('invalid_state');
    const c = await h.call('POST', '/v1/keys/doomed/cancel-deletion');
    expect(c.body).toMatchObject({ state: 'disabled', deletionDate: null });
    expect((await h.call('POST', '/v1/keys/doomed/cancel-deletion')).body.error.code).toBe('invalid_state');
    const d = await h.call('POST', '/v1/keys/doomed/schedule-deletion');
    expect(d.body.deletionDate).toBe('2026-07-01T00:00:00.000Z');
  });
});
