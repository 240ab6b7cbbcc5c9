import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/** The code an authenticator app holding `secret` shows at `now`. */
function code(secret: string, now: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: now.getTime() });
}

const STEP_MS = 30_000;
const newKey = (name: string) => ({ name, algorithm: 'aes-256-gcm', owner: 'team-x' });

/** Enrols and confirms a TOTP authenticator for the user holding `token`; returns its secret. */
async function enrolled(h: Harness, token: string): Promise<string> {
  const enrolment = await h.call('POST', '/v1/auth/totp', undefined, token);
  expect(enrolment.status, JSON.stringify(enrolment.body)).toBe(201);
  const secret = enrolment.body.secret as string;
  const confirmed = await h.call('POST', '/v1/auth/totp/confirm', { code: code(secret, h.clock.now()) }, token);
  expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
  // The confirming code is used up: move to the next step.
  h.clock.advance(STEP_MS);
  return secret;
}

describe.each(STORE_KINDS)('TOTP for local users (%s)', (store) => {
  let h: Harness;
  let alice: string;
  let secret: string;
  let bobSecret: string;
  const otp = (value: string) => ({ 'x-keyward-otp': value });

  beforeAll(async () => {
    h = await Harness.start({ store });
    alice = await h.principal('alice', ['admin'], { kind: 'user' });
  });
  afterAll(async () => h.close());

  it('a service or team cannot enrol; a user enrols, and the authenticator is pending until confirmed', async () => {
    const service = await h.principal('svc-robot', ['admin']);
    const refused = await h.call('POST', '/v1/auth/totp', undefined, service);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');

    const enrolment = await h.call('POST', '/v1/auth/totp', undefined, alice);
    expect(enrolment.status, JSON.stringify(enrolment.body)).toBe(201);
    secret = enrolment.body.secret;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(enrolment.body.uri).toMatch(/^otpauth:\/\/totp\/Keyward:alice\?/);
    expect(new URL(enrolment.body.uri).searchParams.get('secret')).toBe(secret);
    // Pending: admin actions need no code yet.
    expect((await h.call('POST', '/v1/keys', newKey('before-confirm'), alice)).status).toBe(201);
  });

  it('confirm refuses a wrong or malformed code, accepts the current one; a confirmed authenticator cannot be replaced by its user', async () => {
    const now = h.clock.now();
    const wrong = code(secret, new Date(now.getTime() + 10 * STEP_MS));
    const bad = await h.call('POST', '/v1/auth/totp/confirm', { code: wrong }, alice);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect((await h.call('POST', '/v1/auth/totp/confirm', { code: '12345' }, alice)).body.error.code).toBe('invalid_request');
    const ok = await h.call('POST', '/v1/auth/totp/confirm', { code: code(secret, now) }, alice);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toEqual({ principal: 'alice', confirmedAt: now.toISOString() });
    expect((await h.call('POST', '/v1/auth/totp/confirm', { code: code(secret, now) }, alice)).status).toBe(404);
    const again = await h.call('POST', '/v1/auth/totp', undefined, alice);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it('admin-level actions need the current code, once; reads need none', async () => {
    h.clock.advance(STEP_MS);
    const missing = await h.call('POST', '/v1/keys', newKey('needs-code'), alice);
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('unauthenticated');
    expect(missing.body.error.message).toContain('second factor is required');
    expect(missing.body.error.message).toContain('X-Keyward-OTP');

    const now = h.clock.now();
    const wrong = await h.call('POST', '/v1/keys', newKey('needs-code'), alice, otp(code(secret, new Date(now.getTime() + 5 * STEP_MS))));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toContain('not valid');
    expect((await h.call('POST', '/v1/keys', newKey('needs-code'), alice, otp('abc'))).status).toBe(401);

    const current = code(secret, now);
    const created = await h.call('POST', '/v1/keys', newKey('needs-code'), alice, otp(current));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const replay = await h.call('POST', '/v1/keys/needs-code/rotate', {}, alice, otp(current));
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toContain('already used');
    // The previous step's code is older than the one used: refused too.
    expect(
      (await h.call('POST', '/v1/keys/needs-code/rotate', {}, alice, otp(code(secret, new Date(now.getTime() - STEP_MS))))).status,
    ).toBe(401);

    // Reads need no code.
    expect((await h.call('GET', '/v1/keys', undefined, alice)).status).toBe(200);
    expect((await h.call('GET', '/v1/keys/needs-code', undefined, alice)).status).toBe(200);
    expect((await h.call('GET', '/v1/auth/self', undefined, alice)).status).toBe(200);

    // One step later (and within ± one step of drift) the next code works.
    h.clock.advance(STEP_MS);
    expect((await h.call('POST', '/v1/keys/needs-code/rotate', {}, alice, otp(code(secret, h.clock.now())))).status).toBe(200);

    const records = (await h.store.listAudit(0, 100_000)).filter((r) => r.actor === 'alice' && r.errorCode === 'unauthenticated');
    expect(records.map((r) => r.details.secondFactor)).toEqual(['missing', 'invalid', 'invalid', 'replayed', 'replayed']);
    for (const r of records) expect(JSON.stringify(r)).not.toContain(current);
  });

  it('principals without a confirmed authenticator are not asked: the bootstrap admin and services', async () => {
    expect((await h.call('POST', '/v1/keys', newKey('bootstrap-made'))).status).toBe(201);
    const service = await h.principal('svc-admin', ['admin']);
    expect((await h.call('POST', '/v1/keys', newKey('service-made'), service)).status).toBe(201);
  });

  it('an admin removes a lost authenticator (audited); only admins may; then the user enrols again', async () => {
    const keyAdmin = await h.principal('kadmin', ['key-admin']);
    const forbidden = await h.call('DELETE', '/v1/principals/alice/totp', undefined, keyAdmin);
    expect(forbidden.status).toBe(403);
    expect((await h.call('DELETE', '/v1/principals/alice/totp')).status).toBe(204);
    expect((await h.call('DELETE', '/v1/principals/alice/totp')).body.error.code).toBe('not_found');
    const records = await h.store.listAudit(0, 100_000);
    const removal = records.filter((r) => r.action === 'principal.totp-remove');
    expect(removal.map((r) => [r.actor, r.outcome, r.details.principal])).toEqual([
      ['kadmin', 'denied', 'alice'],
      ['admin', 'success', 'alice'],
      ['admin', 'error', 'alice'],
    ]);
    // Without an authenticator, no code is asked; a new one can be enrolled.
    expect((await h.call('POST', '/v1/keys', newKey('after-removal'), alice)).status).toBe(201);
    expect((await h.call('POST', '/v1/auth/totp', undefined, alice)).status).toBe(201);
  });

  it('an admin with TOTP needs its own code to remove another user’s', async () => {
    const bob = await h.principal('bob', ['admin'], { kind: 'user' });
    bobSecret = await enrolled(h, bob);
    const carol = await h.principal('carol', ['key-admin'], { kind: 'user' });
    await enrolled(h, carol);
    expect((await h.call('DELETE', '/v1/principals/carol/totp', undefined, bob)).status).toBe(401);
    expect((await h.call('DELETE', '/v1/principals/carol/totp', undefined, bob, otp(code(bobSecret, h.clock.now())))).status).toBe(204);
  });

  it('secrets never reach audit records or logs; the code header is not logged', async () => {
    const haystack = `${h.logs.join('\n')}\n${JSON.stringify(await h.store.listAudit(0, 100_000))}`;
    expect(haystack).not.toContain(secret);
    expect(haystack.toLowerCase()).not.toContain('x-keyward-otp');
    const stored = await h.testStore.raw('SELECT secret FROM principal_totp WHERE principal_id = ?', ['bob']);
    expect(stored).toHaveLength(1);
    const wrapped = Buffer.from(stored[0]!.secret as Uint8Array);
    expect(wrapped.includes(Buffer.from(Secret.fromBase32(bobSecret).bytes))).toBe(false);
    expect(wrapped.includes(Buffer.from(bobSecret))).toBe(false);
  });
});

describe.each(STORE_KINDS)('TOTP codes count as failed authentications (%s)', (store) => {
  it('bad codes spend the source’s failed-authentication allowance until it is refused with 429', async () => {
    const h = await Harness.start({ store, rates: { authFailureBurst: 3, authFailuresPerSecond: 0.001 } });
    try {
      const dave = await h.principal('dave', ['admin'], { kind: 'user' });
      const secret = await enrolled(h, dave);
      const future = code(secret, new Date(h.clock.now().getTime() + 10 * STEP_MS));
      for (let i = 0; i < 3; i++) {
        expect((await h.call('POST', '/v1/keys', newKey('k'), dave, { 'x-keyward-otp': future })).status).toBe(401);
      }
      const braked = await h.call('POST', '/v1/keys', newKey('k'), dave, { 'x-keyward-otp': code(secret, h.clock.now()) });
      expect(braked.status).toBe(429);
      expect(braked.body.error.code).toBe('rate_limited');
    } finally {
      await h.close();
    }
  });
});
