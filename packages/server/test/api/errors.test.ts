import { ERROR_CODES, HTTP_STATUS } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAuditUnwritable, makeAuditWritable } from '../support/audit-tamper.js';
import { b64, Harness, type Response } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ rates: { authFailureBurst: 3, authFailuresPerSecond: 0.1 } });
  await h.createKey('errs');
});
afterAll(async () => h.close());

const reached = new Map<string, Response>();

function expectError(r: Response, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(HTTP_STATUS[code as keyof typeof HTTP_STATUS]);
  expect(r.body.error.code).toBe(code);
  expect(typeof r.body.error.message).toBe('string');
  expect(r.body.error.requestId).toBe(r.headers['x-request-id']);
  reached.set(code, r);
}

describe('every error code of API.md', () => {
  it('invalid_request names the field', async () => {
    const r = await h.call('POST', '/v1/keys', { name: 'x', algorithm: 'nope', owner: 'o' });
    expectError(r, 'invalid_request');
    expect(r.body.error.message).toMatch(/^algorithm: must be one of aes-256-gcm/);
  });

  it('invalid_ciphertext', async () => {
    expectError(await h.call('POST', '/v1/keys/errs/decrypt', { ciphertext: 'kw1:AAAA' }), 'invalid_ciphertext');
  });

  it('policy_violation names the class and the rule', async () => {
    const r = await h.call('POST', '/v1/keys', {
      name: 'short-window',
      algorithm: 'aes-256-gcm',
      owner: 'o',
      class: 'critical',
      deletionWindowDays: 7,
    });
    expectError(r, 'policy_violation');
    expect(r.body.error.message).toBe(
      'deletionWindowDays: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
    );
    expect((await h.call('GET', '/v1/keys/short-window')).status).toBe(404);
  });

  it('unauthenticated', async () => {
    expectError(await h.call('GET', '/v1/keys', undefined, 'kw_not-a-token'), 'unauthenticated');
  });

  it('forbidden', async () => {
    const token = await h.principal('nobody', []);
    expectError(await h.call('GET', '/v1/keys', undefined, token), 'forbidden');
  });

  it('not_found for keys, versions, principals, tokens and routes', async () => {
    expectError(await h.call('GET', '/v1/keys/missing'), 'not_found');
    expectError(await h.call('POST', '/v1/keys/errs/versions/5/deactivate'), 'not_found');
    expectError(await h.call('GET', '/v1/principals/missing'), 'not_found');
    expectError(await h.call('POST', '/v1/principals/missing/tokens', {}), 'not_found');
    expectError(await h.call('POST', '/v1/keys/errs/grants', { principal: 'missing', operations: ['encrypt'] }), 'not_found');
    expectError(await h.call('GET', '/v1/nothing-here'), 'not_found');
  });

  it('conflict', async () => {
    expectError(await h.call('POST', '/v1/keys', { name: 'errs', algorithm: 'aes-256-gcm', owner: 'o' }), 'conflict');
    await h.call('POST', '/v1/principals', { id: 'twice', kind: 'user' });
    expectError(await h.call('POST', '/v1/principals', { id: 'twice', kind: 'user' }), 'conflict');
  });

  it('invalid_state names the key, the version and the state', async () => {
    await h.call('POST', '/v1/keys/errs/rotate');
    await h.call('POST', '/v1/keys/errs/versions/1/deactivate');
    const r = await h.call('POST', '/v1/keys/errs/versions/1/deactivate');
    expectError(r, 'invalid_state');
    expect(r.body.error.message).toBe("key version 1 of 'errs' is deactivated and cannot become deactivated");
  });

  it('payload_too_large for a plaintext over 64 KiB and for an oversized body', async () => {
    const r = await h.call('POST', '/v1/keys/errs/encrypt', { plaintext: b64(Buffer.alloc(64 * 1024 + 1)) });
    expectError(r, 'payload_too_large');
    expect(r.body.error.message).toMatch(/^plaintext: /);
    expect((await h.call('POST', '/v1/keys/errs/encrypt', { plaintext: b64(Buffer.alloc(64 * 1024)) })).status).toBe(200);
    expectError(
      await h.call('POST', '/v1/keys', { name: 'big', algorithm: 'aes-256-gcm', owner: 'o', description: 'x'.repeat(2 * 1024 * 1024) }),
      'payload_too_large',
    );
  });

  it('rate_limited after repeated failed authentications from one address; the clock refills it', async () => {
    let r = await h.call('GET', '/v1/keys', undefined, 'kw_guess-0');
    for (let i = 1; i < 5 && r.status === 401; i++) r = await h.call('GET', '/v1/keys', undefined, `kw_guess-${i}`);
    expectError(r, 'rate_limited');
    // Refused before the credential is even checked, so guessing learns nothing.
    expect((await h.call('GET', '/v1/keys')).status).toBe(429);
    h.clock.advance(10_000);
    expect((await h.call('GET', '/v1/keys')).status).toBe(200);
  });

  it('unavailable when the audit record cannot be written', async () => {
    await makeAuditUnwritable(h.testStore);
    try {
      expectError(await h.call('POST', '/v1/keys/errs/encrypt', { plaintext: b64('x') }), 'unavailable');
    } finally {
      await makeAuditWritable(h.testStore);
    }
  });

  it('sealed', async () => {
    expect((await h.call('POST', '/v1/sys/seal')).status).toBe(204);
    expectError(await h.call('GET', '/v1/keys'), 'sealed');
  });

  it('reached every code except internal (which only a server fault produces)', () => {
    expect([...reached.keys()].sort()).toEqual(ERROR_CODES.filter((c) => c !== 'internal').sort());
  });
});

describe('audit', () => {
  it('records requests Fastify refuses before routing (bad percent-encoding) too', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/keys/%zz' });
    expect(r.statusCode).toBe(400);
    const id = r.headers['x-request-id'];
    const records = await h.audit();
    expect(records.find((a) => a.requestId === id)).toMatchObject({
      action: 'request.refused',
      outcome: 'error',
      errorCode: 'invalid_request',
    });
  });

  it('records every request, allowed or refused, with actor, action, key, version, outcome, request id and source', async () => {
    const records = await h.audit();
    const denied = records.find((r) => r.errorCode === 'unauthenticated');
    expect(denied).toMatchObject({ actor: null, outcome: 'denied', source: '127.0.0.1' });
    const forbidden = records.find((r) => r.errorCode === 'forbidden');
    expect(forbidden).toMatchObject({ actor: 'nobody', action: 'key.list', outcome: 'denied' });
    const rotate = records.find((r) => r.action === 'key.rotate');
    expect(rotate).toMatchObject({
      actor: 'admin',
      namespace: 'default',
      key: 'errs',
      keyVersion: 2,
      outcome: 'success',
      details: { trigger: 'manual' },
    });
    const requestIds = new Set(records.map((r) => r.requestId));
    expect(requestIds.size).toBe(records.length);
    expect(records.find((r) => r.errorCode === 'invalid_request')).toMatchObject({
      action: 'request.refused',
      details: { method: 'POST', route: '/v1/keys' },
    });
    for (const [code, response] of reached) {
      // The one refusal that could not be recorded: that is what it reports.
      if (code === 'unavailable') continue;
      expect(
        records.some((r) => r.requestId === response.body.error.requestId),
        code,
      ).toBe(true);
    }
  });
});
