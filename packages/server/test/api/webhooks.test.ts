import { EVENT_TYPES as WIRE_EVENT_TYPES } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/events/webhook-dispatcher.js';
import { Harness } from '../support/harness.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Webhooks against real loopback receivers that verify the HMAC signature
 * with their own code. Retries move the injected clock; nothing sleeps.
 */
let h: Harness;
let receiver: WebhookReceiver;
const SECRET = 'whsec-0123456789abcdef-test';

beforeAll(async () => {
  h = await Harness.start({ webhooks: { timeoutMs: 1_000, maxAttempts: 3, baseDelayMs: 10_000 } });
  receiver = await WebhookReceiver.start(SECRET);
});
afterAll(async () => {
  await receiver.close();
  await h.close();
});

const run = () => h.keyward.dispatcher.runOnce();

describe('webhook endpoints', () => {
  it('validates url, events and secret', async () => {
    const ok = { url: 'https://hooks.example.com/keyward', events: ['key.rotated'], secret: SECRET };
    const cases: [object, string][] = [
      [{ ...ok, url: 'ftp://example.com/x' }, 'url: must use http or https, not ftp'],
      [{ ...ok, url: 'not a url' }, 'url: not a valid URL'],
      [{ ...ok, url: 'https://user:pw@example.com/' }, 'url: must not contain credentials'],
      [{ ...ok, events: ['key.exploded'] }, 'events[0]: must be one of key.created, key.updated, key.rotated'],
      [{ ...ok, events: [] }, 'events'],
      [{ ...ok, secret: 'short' }, 'secret'],
      [{ ...ok, secret: 'x'.repeat(257) }, 'secret'],
      [{ url: ok.url, events: ok.events }, 'secret'],
    ];
    for (const [body, message] of cases) {
      const r = await h.call('POST', '/v1/webhooks', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toContain(message);
    }
  });

  it('creates, lists, reads and removes; the secret is never returned; roles are enforced', async () => {
    const r = await h.call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/k?x=1', events: ['key.created'], secret: SECRET });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      url: 'https://hooks.example.com/k?x=1',
      events: ['key.created'],
      createdAt: '2026-06-01T00:00:00.000Z',
      createdBy: 'admin',
      state: 'active',
    });
    expect(JSON.stringify(r.body)).not.toContain(SECRET);
    expect((await h.call('GET', `/v1/webhooks/${r.body.id}`)).body).toEqual(r.body);
    expect((await h.call('GET', '/v1/webhooks')).body.webhooks.map((w: any) => w.id)).toContain(r.body.id);

    const keyAdmin = await h.principal('hooks-key-admin', ['key-admin']);
    const auditor = await h.principal('hooks-auditor', ['auditor']);
    const user = await h.principal('hooks-user', ['key-user']);
    const body = { url: 'http://127.0.0.1:1/x', events: ['key.created'], secret: SECRET };
    const byKeyAdmin = await h.call('POST', '/v1/webhooks', body, keyAdmin);
    expect(byKeyAdmin.status).toBe(201);
    expect((await h.call('POST', '/v1/webhooks', body, auditor)).status).toBe(403);
    expect((await h.call('GET', '/v1/webhooks', undefined, auditor)).status).toBe(200);
    expect((await h.call('GET', '/v1/webhooks', undefined, user)).status).toBe(403);
    expect((await h.call('DELETE', `/v1/webhooks/${byKeyAdmin.body.id}`, undefined, auditor)).status).toBe(403);
    expect((await h.call('DELETE', `/v1/webhooks/${byKeyAdmin.body.id}`, undefined, keyAdmin)).status).toBe(204);
    expect((await h.call('DELETE', `/v1/webhooks/${r.body.id}`)).status).toBe(204);
    expect((await h.call('GET', `/v1/webhooks/${r.body.id}`)).body.error.code).toBe('not_found');
    expect((await h.call('DELETE', `/v1/webhooks/${r.body.id}`)).body.error.code).toBe('not_found');
    expect((await h.call('GET', '/v1/webhooks/not-a-uuid')).status).toBe(400);

    const records = (await h.store.listAudit(0, 100_000)).filter((a) => a.action.startsWith('webhook.'));
    expect(records.find((a) => a.action === 'webhook.manage' && a.outcome === 'success')?.details).toEqual({
      webhookId: r.body.id,
      destination: 'https://hooks.example.com',
      events: 'key.created',
    });
  });
});

describe('delivery', () => {
  let hookId: string;

  it('delivers signed events in order, only the subscribed types', async () => {
    const r = await h.call('POST', '/v1/webhooks', {
      url: receiver.url,
      events: ['key.created', 'key.rotated', 'version.compromised'],
      secret: SECRET,
    });
    hookId = r.body.id;
    await h.createKey('hooked');
    await h.call('PATCH', '/v1/keys/hooked', { description: 'not subscribed' });
    await h.call('POST', '/v1/keys/hooked/rotate');
    await h.call('POST', '/v1/keys/hooked/versions/1/compromise', { reason: 'test' });
    expect(receiver.received).toHaveLength(0); // nothing is sent from the request path
    const result = await run();
    expect(result).toMatchObject({ leader: true, delivered: 3, failed: 0 });
    const got = receiver.received.map((d) => ({ ...d, event: JSON.parse(d.body) }));
    expect(got.map((d) => d.event.type)).toEqual(['key.created', 'key.rotated', 'version.compromised']);
    for (const d of got) {
      expect(d.signatureValid).toBe(true);
      expect(d.timestamp).toBe(Math.floor(h.clock.now().getTime() / 1000));
      expect(d.headers['content-type']).toBe('application/json');
      expect(d.headers['x-keyward-event']).toBe(d.event.type);
      expect(d.headers['x-keyward-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(Object.keys(d.event)).toEqual(['id', 'type', 'time', 'namespace', 'key', 'keyId', 'version', 'data']);
    }
    const ids = got.map((d) => d.event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(await run()).toMatchObject({ delivered: 0 }); // nothing twice
    expect(receiver.received).toHaveLength(3);
    const hook = (await h.call('GET', `/v1/webhooks/${hookId}`)).body;
    expect(hook).toMatchObject({ state: 'active', cursor: ids[2], lastDeliveryAt: h.clock.now().toISOString() });
  });

  it('retries after a 500 with backoff on the injected clock, then succeeds; the log shows each attempt', async () => {
    receiver.received.length = 0;
    receiver.respond = () => 500;
    await h.call('POST', '/v1/keys/hooked/rotate');
    expect(await run()).toMatchObject({ delivered: 0, failed: 1 });
    expect(receiver.received).toHaveLength(1);
    let log = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries`)).body.deliveries;
    const first = log[0];
    expect(first).toMatchObject({ eventType: 'key.rotated', attempt: 1, status: 500, error: null });
    const delay = new Date(first.nextRetryAt).getTime() - h.clock.now().getTime();
    expect(delay).toBeGreaterThanOrEqual(5_000);
    expect(delay).toBeLessThanOrEqual(10_000);
    expect((await h.call('GET', `/v1/webhooks/${hookId}`)).body.nextAttemptAt).toBe(first.nextRetryAt);

    // Not due yet: nothing is sent.
    h.clock.advance(delay - 1);
    await run();
    expect(receiver.received).toHaveLength(1);

    receiver.respond = () => 200;
    h.clock.advance(1);
    expect(await run()).toMatchObject({ delivered: 1, failed: 0 });
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]?.body).toBe(receiver.received[0]?.body); // the same event, byte for byte
    expect(receiver.received[1]?.signatureValid).toBe(true);
    expect(receiver.received[1]?.headers['x-keyward-delivery']).not.toBe(receiver.received[0]?.headers['x-keyward-delivery']);

    log = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries`)).body.deliveries;
    expect(log.slice(0, 2)).toMatchObject([
      { eventId: first.eventId, attempt: 2, status: 200, error: null, nextRetryAt: null },
      { eventId: first.eventId, attempt: 1, status: 500 },
    ]);
    expect(log).toHaveLength(5);
    // Paging, newest first.
    const page1 = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries?limit=2`)).body;
    const page2 = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries?limit=2&cursor=${page1.nextCursor}`)).body;
    const page3 = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries?limit=2&cursor=${page2.nextCursor}`)).body;
    expect([...page1.deliveries, ...page2.deliveries, ...page3.deliveries]).toEqual(log);
    expect(page3.nextCursor).toBeNull();
  });

  it('gives up after maxAttempts: the webhook is marked failing (with the reason), then recovers', async () => {
    receiver.respond = () => 503;
    await h.call('POST', '/v1/keys/hooked/rotate');
    await run();
    for (let i = 0; i < 2; i++) {
      h.clock.advance(3_600_000);
      await run();
    }
    const hook = (await h.call('GET', `/v1/webhooks/${hookId}`)).body;
    expect(hook.state).toBe('failing');
    expect(hook.failureReason).toMatch(/^event \d+ \(key\.rotated\) not delivered after 3 attempts; last: HTTP 503$/);
    expect(hook.nextAttemptAt).toBeNull();
    expect((await h.call('GET', '/v1/webhooks')).body.webhooks.find((w: any) => w.id === hookId).state).toBe('failing');
    const log = (await h.call('GET', `/v1/webhooks/${hookId}/deliveries?limit=3`)).body.deliveries;
    expect(log.map((d: any) => [d.attempt, d.status, d.nextRetryAt === null])).toEqual([
      [3, 503, true],
      [2, 503, false],
      [1, 503, false],
    ]);

    receiver.respond = () => 204;
    await h.call('POST', '/v1/keys/hooked/rotate');
    expect(await run()).toMatchObject({ delivered: 1 });
    expect((await h.call('GET', `/v1/webhooks/${hookId}`)).body).toMatchObject({ state: 'active', failureReason: null });
    expect((await h.call('DELETE', `/v1/webhooks/${hookId}`)).status).toBe(204);
    expect(await h.store.listWebhookDeliveries(hookId, 10, null)).toEqual([]);
  });

  it('records network errors: a refused connection', async () => {
    const dead = await WebhookReceiver.start(SECRET);
    const url = dead.url;
    await dead.close();
    const r = await h.call('POST', '/v1/webhooks', { url, events: ['key.created'], secret: SECRET });
    await h.createKey('refused-hook');
    await run();
    const [attempt] = (await h.call('GET', `/v1/webhooks/${r.body.id}/deliveries`)).body.deliveries;
    expect(attempt).toMatchObject({ attempt: 1, status: null });
    expect(attempt.error).toContain('ECONNREFUSED');
    await h.call('DELETE', `/v1/webhooks/${r.body.id}`);
  });

  it('the wire and the store name the same event types', async () => {
    const { EVENT_TYPES } = await import('../../src/store/records.js');
    expect([...WIRE_EVENT_TYPES]).toEqual([...EVENT_TYPES]);
  });

  it('backoff grows exponentially with jitter, capped', () => {
    const options = { baseDelayMs: 1_000, maxDelayMs: 10_000 };
    expect(backoffMs(1, options, () => 0)).toBe(500);
    expect(backoffMs(1, options, () => 1)).toBe(1_000);
    expect(backoffMs(3, options, () => 1)).toBe(4_000);
    expect(backoffMs(10, options, () => 1)).toBe(10_000);
  });
});

describe('a dead receiver', () => {
  it('never delays an operation: deliveries run in the background', async () => {
    const hanging = await WebhookReceiver.start(SECRET);
    hanging.hang = true;
    const r = await h.call('POST', '/v1/webhooks', { url: hanging.url, events: ['key.created', 'key.rotated'], secret: SECRET });
    h.keyward.dispatcher.start(5);
    const delivering = run(); // in flight against a receiver that never answers
    const started = performance.now();
    await h.createKey('busy');
    for (let i = 0; i < 5; i++) expect((await h.call('POST', '/v1/keys/busy/rotate')).status).toBe(200);
    const elapsed = performance.now() - started;
    // The receiver got a request and is sitting on it; six changes completed well within one attempt's timeout.
    await expect.poll(() => hanging.received.length).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(1_000);
    await h.keyward.dispatcher.stop();
    await delivering;
    const log = (await h.call('GET', `/v1/webhooks/${r.body.id}/deliveries`)).body.deliveries;
    // A stop cuts the attempt short without counting it against the receiver.
    expect(log.every((d: any) => d.error === 'no answer within 1000 ms')).toBe(true);
    await hanging.close();
    await h.call('DELETE', `/v1/webhooks/${r.body.id}`);
  });

  it('times an attempt out after timeoutMs and schedules a retry', async () => {
    const hanging = await WebhookReceiver.start(SECRET);
    hanging.hang = true;
    const r = await h.call('POST', '/v1/webhooks', { url: hanging.url, events: ['key.created'], secret: SECRET });
    await h.createKey('slow-hook');
    await run();
    const [attempt] = (await h.call('GET', `/v1/webhooks/${r.body.id}/deliveries`)).body.deliveries;
    expect(attempt).toMatchObject({ attempt: 1, status: null, error: 'no answer within 1000 ms' });
    expect(attempt.nextRetryAt).not.toBeNull();
    await hanging.close();
    await h.call('DELETE', `/v1/webhooks/${r.body.id}`);
  });
});

describe('the secret', () => {
  it('is stored only wrapped: absent from every table in plaintext, and bound to its webhook', async () => {
    const r = await h.call('POST', '/v1/webhooks', { url: receiver.url, events: ['key.created'], secret: SECRET });
    const rows = await h.testStore.raw('SELECT * FROM webhooks');
    expect(rows.length).toBeGreaterThan(0);
    const needle = Buffer.from(SECRET);
    const tables = ['webhooks', 'webhook_deliveries', 'audit_events', 'events', 'meta'];
    for (const table of tables) {
      for (const row of await h.testStore.raw(`SELECT * FROM ${table}`)) {
        for (const value of Object.values(row)) {
          const bytes = Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(String(value));
          expect(bytes.includes(needle), `${table} holds the secret`).toBe(false);
          expect(bytes.includes(Buffer.from(Buffer.from(SECRET).toString('base64'))), `${table} holds the secret`).toBe(false);
          expect(bytes.includes(Buffer.from(Buffer.from(SECRET).toString('hex'))), `${table} holds the secret`).toBe(false);
        }
      }
    }
    // A wrapped secret moved to another webhook's row does not unwrap: that webhook's deliveries fail closed.
    const other = await h.call('POST', '/v1/webhooks', { url: receiver.url, events: ['key.created'], secret: 'another-secret-0123456789' });
    const [source] = await h.testStore.raw('SELECT secret FROM webhooks WHERE id = ?', [r.body.id]);
    await h.testStore.raw('UPDATE webhooks SET secret = ? WHERE id = ?', [source?.secret, other.body.id]);
    receiver.received.length = 0;
    await h.createKey('moved-secret');
    const result = await run();
    expect(result.failed).toBeGreaterThanOrEqual(1);
    expect(receiver.received).toHaveLength(1); // only the intact webhook delivered
    expect(receiver.received[0]?.signatureValid).toBe(true);
    const moved = (await h.call('GET', `/v1/webhooks/${other.body.id}/deliveries`)).body.deliveries;
    expect(moved).toEqual([]); // nothing was sent, so there is no attempt to log; the webhook says why
    expect((await h.call('GET', `/v1/webhooks/${other.body.id}`)).body).toMatchObject({
      state: 'failing',
      failureReason: 'the stored signing secret failed its integrity check; recreate the webhook',
    });
  });
});
