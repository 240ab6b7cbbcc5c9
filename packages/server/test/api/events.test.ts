import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../support/harness.js';
import { openSse, type SseClient } from '../support/sse.js';

/**
 * `GET /v1/events` against a real loopback listener, read with fetch
 * streaming: order, ids, resumption, filters, authorization, and clean ends.
 */
let h: Harness;
let base: string;
const streams: SseClient[] = [];

async function stream(query = '', headers: Record<string, string> = {}, token: string = h.adminToken): Promise<SseClient> {
  const s = await openSse(`${base}/v1/events${query}`, { authorization: `Bearer ${token}`, ...headers });
  streams.push(s);
  return s;
}

beforeAll(async () => {
  h = await Harness.start({ events: { pollIntervalMs: 20, heartbeatMs: 100 } });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of streams) s.close();
  await h.close();
});

const parsed = (s: SseClient) => s.messages.map((m) => ({ id: Number(m.id), event: m.event, data: JSON.parse(m.data) }));

describe('event stream', () => {
  let all: ReturnType<typeof parsed>;

  it('streams every change in order with increasing ids, starting at the newest event', async () => {
    await h.createKey('before-stream');
    const s = await stream();
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.headers.get('x-request-id')).toBeTruthy();

    await h.createKey('streamed', 'aes-256-gcm', { class: 'standard' });
    expect((await h.call('POST', '/v1/keys/streamed/rotate', { reason: 'test' })).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/streamed/versions/2/compromise', { reason: 'leaked' })).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/streamed/schedule-deletion', { days: 30 })).status).toBe(200);

    await s.waitFor(5);
    all = parsed(s);
    expect(all.map((e) => e.event)).toEqual(['key.created', 'key.rotated', 'version.compromised', 'key.rotated', 'key.deletion_scheduled']);
    expect(all.every((e) => e.data.key === 'streamed')).toBe(true); // 'before-stream' came earlier: not sent
    const ids = all.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of all) expect(e.data.id).toBe(e.id);
    expect(all[0]?.data).toMatchObject({
      type: 'key.created',
      time: '2026-06-01T00:00:00.000Z',
      namespace: 'default',
      key: 'streamed',
      version: 1,
      data: { algorithm: 'aes-256-gcm' },
    });
    expect(Object.keys(all[0]?.data ?? {})).toEqual(['id', 'type', 'time', 'namespace', 'key', 'keyId', 'version', 'data']);
    expect(all[1]?.data).toMatchObject({ version: 2, data: { trigger: 'manual', previousVersion: 1 } });
    expect(all[2]?.data).toMatchObject({ version: 2, data: { reason: 'leaked' } });
    expect(all[3]?.data).toMatchObject({ version: 3, data: { trigger: 'event', previousVersion: 2 } });
    expect(all[4]?.data.data).toMatchObject({ days: 30, deletionDate: '2026-07-01T00:00:00.000Z' });
    s.close();
  });

  it('resumes with Last-Event-ID: exactly the missed events, then live ones', async () => {
    const lastSeen = all[1]?.id as number;
    const s = await stream('?from=0', { 'last-event-id': String(lastSeen) }); // the header wins over `from`
    await s.waitFor(3);
    expect(parsed(s).map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
    await h.call('POST', '/v1/keys/streamed/cancel-deletion');
    await s.waitFor(4);
    expect(parsed(s).map((e) => e.event)).toEqual([
      'version.compromised',
      'key.rotated',
      'key.deletion_scheduled',
      'key.deletion_cancelled',
    ]);
    expect(s.messages).toHaveLength(4);
    s.close();
  });

  it('resumes with ?from= and filters by ?types=', async () => {
    const s = await stream(`?from=${(all[0]?.id as number) - 1}&types=key.rotated,key.deletion_cancelled`);
    await s.waitFor(3);
    expect(parsed(s).map((e) => [e.event, e.data.version])).toEqual([
      ['key.rotated', 2],
      ['key.rotated', 3],
      ['key.deletion_cancelled', null],
    ]);
    s.close();
  });

  it('sends comment heartbeats while idle', async () => {
    const s = await stream();
    await s.waitForComment((c) => c === 'heartbeat');
    expect(s.messages).toEqual([]);
    s.close();
  });

  it('ends the stream when the token is revoked', async () => {
    const token = await h.principal('events-auditor', ['auditor']);
    const s = await stream('', {}, token);
    expect(s.status).toBe(200);
    const self = await h.call('GET', '/v1/auth/self', undefined, token);
    expect(self.status).toBe(200);
    const tokens = await h.store.listAudit(0, 100_000);
    const tokenId = tokens.filter((r) => r.action === 'token.create' && r.details.principal === 'events-auditor').at(-1)?.details.tokenId;
    expect((await h.call('DELETE', `/v1/tokens/${tokenId}`)).status).toBe(204);
    await s.ended;
  });

  it('answers 401 and 403 as JSON errors before any stream starts', async () => {
    const none = await fetch(`${base}/v1/events`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    const user = await h.principal('svc-events', ['key-user']);
    const r = await h.call('GET', '/v1/events', undefined, user);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden');
    expect((await h.call('GET', '/v1/events?types=key.nope')).body.error).toMatchObject({
      code: 'invalid_request',
      message: "querystring.types: unknown event type 'key.nope'",
    });
    expect((await h.call('GET', '/v1/events', undefined, h.adminToken, { 'last-event-id': 'x1' })).body.error.message).toBe(
      'Last-Event-ID: must be an event id (a non-negative integer)',
    );
    expect((await h.call('GET', '/v1/events?from=-1')).status).toBe(400);
    const key = await h.principal('events-key-admin', ['key-admin']);
    const ok = await stream('', {}, key);
    expect(ok.status).toBe(200);
    ok.close();
  });

  it('records one audit record per stream opened, refusals included', async () => {
    const records = (await h.store.listAudit(0, 100_000)).filter((r) => r.action === 'events.read');
    expect(records.filter((r) => r.outcome === 'success').length).toBeGreaterThanOrEqual(5);
    expect(records.some((r) => r.outcome === 'denied' && r.actor === 'svc-events')).toBe(true);
    expect(records.find((r) => r.outcome === 'success' && r.details.types !== null)?.details).toMatchObject({
      types: 'key.rotated,key.deletion_cancelled',
    });
  });

  it('app.close() ends open streams instead of waiting for them', async () => {
    const s = await stream();
    const other = await stream('?from=0');
    await other.waitFor(1);
    const started = Date.now();
    await h.app.close();
    await s.ended;
    await other.ended;
    expect(Date.now() - started).toBeLessThan(3_000);
    // Restart on the same data for close() in afterAll.
    await h.restart();
  });
});
