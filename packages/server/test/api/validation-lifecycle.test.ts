import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';

/**
 * Bad input on the life-cycle, report and event endpoints: 400
 * invalid_request naming the field, and nothing written.
 */
let h: Harness;
const TABLES = ['keys', 'key_tags', 'key_versions', 'events', 'webhooks', 'webhook_deliveries', 'grants', 'principals', 'tokens'];

async function state(): Promise<string> {
  const rows: string[] = [];
  for (const table of TABLES) rows.push(...(await h.testStore.raw(`SELECT * FROM ${table}`)).map((r) => `${table}:${JSON.stringify(r)}`));
  return rows.sort().join('\n');
}

let before = '';
beforeAll(async () => {
  h = await Harness.start();
  await h.createKey('enc');
  await h.createKey('sig', 'ed25519');
  await h.call('POST', '/v1/keys/enc/rotate');
  await h.call('POST', '/v1/keys/enc/encrypt', { plaintext: b64('used once') });
  before = await state();
});
afterAll(async () => h.close());

const secret = 's'.repeat(24);
const cases: Array<[string, string, unknown, string]> = [
  ['POST', '/v1/keys', { name: 'n1', algorithm: 'aes-256-gcm', owner: 'o', prepublishPeriod: 'soon' }, 'prepublishPeriod'],
  ['POST', '/v1/keys', { name: 'n2', algorithm: 'aes-256-gcm', owner: 'o', originatorPeriod: 30 }, 'originatorPeriod'],
  [
    'POST',
    '/v1/keys',
    { name: 'n3', algorithm: 'aes-256-gcm', owner: 'o', rotationPeriod: '90d', originatorPeriod: '30d' },
    'rotationPeriod',
  ],
  [
    'POST',
    '/v1/keys',
    { name: 'n4', algorithm: 'ed25519', owner: 'o', rotationPeriod: '30d', prepublishPeriod: '30d' },
    'prepublishPeriod',
  ],
  ['POST', '/v1/keys', { name: 'n5', algorithm: 'ed25519', owner: 'o', rotationPeriod: null, prepublishPeriod: '7d' }, 'rotationPeriod'],
  ['PATCH', '/v1/keys/enc', { minDecryptionVersion: 0 }, 'minDecryptionVersion'],
  ['PATCH', '/v1/keys/enc', { minDecryptionVersion: '2' }, 'minDecryptionVersion'],
  ['PATCH', '/v1/keys/enc', { minDecryptionVersion: 1.5 }, 'minDecryptionVersion'],
  ['PATCH', '/v1/keys/enc', { minDecryptionVersion: 3 }, 'minDecryptionVersion'],
  ['PATCH', '/v1/keys/enc', { prepublishPeriod: 7 }, 'prepublishPeriod'],
  ['PATCH', '/v1/keys/enc', { originatorPeriod: '1y' }, 'originatorPeriod'],
  ['POST', '/v1/keys/enc/rotate', { activationDate: 'tomorrow' }, 'activationDate'],
  ['POST', '/v1/keys/enc/rotate', { activationDate: 1_900_000_000 }, 'activationDate'],
  ['POST', '/v1/keys/enc/rotate', { activationDate: '2027-13-45T00:00:00Z' }, 'activationDate'],
  ['POST', '/v1/keys/enc/rotate', { activationDate: '2020-01-01T00:00:00Z' }, 'activationDate'],
  ['POST', '/v1/keys/enc/rotate', { reason: 'x', when: 'now' }, 'when'],
  ['POST', '/v1/keys/enc/versions/0/destroy', undefined, 'params.version'],
  ['POST', '/v1/keys/enc/versions/one/destroy', undefined, 'params.version'],
  ['POST', '/v1/keys/enc/versions/1/destroy', { force: true }, 'force'],
  ['POST', '/v1/keys/enc/versions/1/compromise', {}, 'reason'],
  ['POST', '/v1/keys/enc/versions/1/compromise', { reason: '' }, 'reason'],
  ['POST', '/v1/keys/enc/schedule-deletion', { days: 6 }, 'days'],
  ['POST', '/v1/keys/enc/schedule-deletion', { days: '7' }, 'days'],
  ['GET', '/v1/keys/enc/usage?since=yesterday', undefined, 'querystring.since'],
  ['GET', '/v1/keys/enc/usage?since=2026-02-30T00:00:00Z', undefined, 'querystring.since'],
  ['GET', '/v1/keys/enc/usage?by=me', undefined, 'querystring.by'],
  ['GET', '/v1/keys/sig/jwks?kid=1', undefined, 'querystring.kid'],
  ['GET', '/v1/keys/enc/jwks', undefined, "key 'enc'"],
  ['GET', '/v1/events?from=-1', undefined, 'querystring.from'],
  ['GET', '/v1/events?types=nope', undefined, 'querystring.types'],
  ['POST', '/v1/webhooks', { url: 'ftp://example.test/hook', events: ['key.created'], secret }, 'url'],
  ['POST', '/v1/webhooks', { url: 'not a url', events: ['key.created'], secret }, 'url'],
  ['POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['key.nope'], secret }, 'events'],
  ['POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['key.created'], secret: 'short' }, 'secret'],
  ['POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['key.created'] }, 'secret'],
  ['POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['key.created'], secret, retries: 3 }, 'retries'],
  ['GET', '/v1/webhooks/not-a-uuid', undefined, 'params.id'],
  ['DELETE', '/v1/webhooks/not-a-uuid', undefined, 'params.id'],
];

describe('bad input on life-cycle, report and event endpoints', () => {
  for (const [method, url, body, field] of cases) {
    it(`${method} ${url} ${body === undefined ? '' : JSON.stringify(body).slice(0, 60)} → 400 naming ${field}`, async () => {
      const r = await h.call(method, url, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toContain(field);
      expect(r.body.error.requestId).toBe(r.headers['x-request-id']);
    });
  }

  it('wrote nothing', async () => {
    expect(await state()).toBe(before);
  });
});
