import { createHmac, randomBytes } from 'node:crypto';
import type { KeyEventView, WebhookDeliveryView } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { KeywardApiError, KeywardClient } from '../src/index.js';
import { type Received, startReceiver } from './support/receiver.js';
import { useServer } from './support/server.js';

/** Reads `count` events from the stream, then leaves the loop (and aborts as a safety net so the test never hangs). */
async function take(client: KeywardClient, count: number, options: Parameters<KeywardClient['events']>[0] = {}): Promise<KeyEventView[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  const events: KeyEventView[] = [];
  try {
    for await (const event of client.events({ ...options, signal: controller.signal })) {
      events.push(event);
      if (events.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

/** Polls until `check` answers a value (not undefined) or `timeoutMs` passes. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Independent check of `X-Keyward-Signature: t=<s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
function signatureMatches(secret: string, header: string, body: string): boolean {
  const match = /^t=([0-9]+),v1=([0-9a-f]{64})$/.exec(header);
  if (match === null) return false;
  const [, t, v1] = match;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');
  return v1 === expected;
}

describe('events and webhooks through the SDK against the real server', () => {
  const ctx = useServer();

  it('events({ from: 0 }) replays key.created then key.rotated with increasing ids', async () => {
    await ctx.admin.createKey({ name: 'ev-replay', algorithm: 'aes-256-gcm', owner: 'team-events' });
    await ctx.admin.rotateKey('ev-replay', { reason: 'test' });

    const events = (await take(ctx.admin, 2, { from: 0 })).filter((e) => e.key === 'ev-replay');
    expect(events.map((e) => e.type)).toEqual(['key.created', 'key.rotated']);
    const [created, rotated] = events as [KeyEventView, KeyEventView];
    expect(created).toMatchObject({ namespace: 'default', key: 'ev-replay', version: 1, data: { algorithm: 'aes-256-gcm' } });
    expect(rotated).toMatchObject({ namespace: 'default', key: 'ev-replay', version: 2, data: { previousVersion: 1 } });
    expect(rotated.keyId).toBe(created.keyId);
    expect(Number.isInteger(created.id) && created.id > 0).toBe(true);
    expect(rotated.id).toBeGreaterThan(created.id);
    expect(Date.parse(created.time)).not.toBeNaN();

    // Resuming after the first event starts at the second one.
    const resumed = await take(ctx.admin, 1, { from: created.id });
    expect(resumed[0]?.id).toBe(rotated.id);
  });

  it('ids increase across the whole replay', async () => {
    await ctx.admin.createKey({ name: 'ev-order', algorithm: 'hmac-sha256', owner: 'team-events' });
    await ctx.admin.rotateKey('ev-order');
    await ctx.admin.rotateKey('ev-order');
    const events = await take(ctx.admin, 5, { from: 0 });
    expect(events).toHaveLength(5);
    for (let i = 1; i < events.length; i++) expect((events[i] as KeyEventView).id).toBeGreaterThan((events[i - 1] as KeyEventView).id);
  });

  it('leaving the loop closes the stream (no signal needed)', async () => {
    let cancelled = false;
    // Wraps the body so that its cancellation (what closes the connection) is observable.
    const tracking: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.body === null) return response;
      const reader = response.body.getReader();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        async cancel(reason) {
          cancelled = true;
          await reader.cancel(reason);
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const client = new KeywardClient({ address: ctx.server.url, token: ctx.server.token, fetch: tracking });
    const safety = new AbortController();
    try {
      const seen: KeyEventView[] = [];
      const stream = client.events({ from: 0, signal: safety.signal });
      for await (const event of stream) {
        seen.push(event);
        break;
      }
      expect(seen).toHaveLength(1);
      // Give the cancellation a moment to propagate through pipeThrough.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(cancelled).toBe(true);
    } finally {
      safety.abort();
    }
  });

  it('aborting the signal ends the iteration without an error', async () => {
    const controller = new AbortController();
    const seen: KeyEventView[] = [];
    const loop = (async () => {
      for await (const event of ctx.admin.events({ signal: controller.signal })) seen.push(event);
    })();
    setTimeout(() => controller.abort(), 300);
    await expect(loop).resolves.toBeUndefined();
    expect(seen).toEqual([]);
  });

  it('without from, only events committed after the stream opened arrive', async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    try {
      const iterator = ctx.admin.events({ signal: controller.signal })[Symbol.asyncIterator]();
      const first = iterator.next();
      // The stream is open once the request is answered; an event committed now must be the first one seen.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await ctx.admin.createKey({ name: 'ev-live', algorithm: 'aes-256-gcm', owner: 'team-events' });
      const { value, done } = await first;
      expect(done).toBe(false);
      expect(value).toMatchObject({ type: 'key.created', key: 'ev-live' });
      await iterator.return?.(undefined);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  });

  it('the types filter keeps only the requested types', async () => {
    await ctx.admin.createKey({ name: 'ev-filter', algorithm: 'aes-256-gcm', owner: 'team-events' });
    await ctx.admin.rotateKey('ev-filter');
    const rotated = await take(ctx.admin, 3, { from: 0, types: ['key.rotated'] });
    expect(rotated.length).toBeGreaterThanOrEqual(3);
    expect(rotated.every((e) => e.type === 'key.rotated')).toBe(true);

    const both = await take(ctx.admin, 4, { from: 0, types: ['key.created', 'key.rotated'] });
    expect(new Set(both.map((e) => e.type))).toEqual(new Set(['key.created', 'key.rotated']));
  });

  it('refuses an unknown type, a bad from and a missing token before streaming', async () => {
    const unknownType = await take(ctx.admin, 1, { from: 0, types: ['key.nope' as 'key.rotated'] }).catch((e: unknown) => e);
    expect(unknownType).toBeInstanceOf(KeywardApiError);
    expect(unknownType).toMatchObject({ code: 'invalid_request', status: 400 });

    await expect(take(ctx.admin, 1, { from: -1 })).rejects.toMatchObject({ code: 'invalid_request', status: 400 });

    const anonymous = new KeywardClient({ address: ctx.server.url });
    await expect(take(anonymous, 1, { from: 0 })).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
  });

  it('creates, lists, gets, delivers signed events to, and removes a webhook', async () => {
    const receiver = await startReceiver('/hooks/keyward?capability=abc');
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    ctx.server.remember(secret);
    try {
      await ctx.admin.createKey({ name: 'ev-hook', algorithm: 'aes-256-gcm', owner: 'team-events' });

      const hook = await ctx.admin.createWebhook({ url: receiver.url, events: ['key.rotated'], secret });
      expect(hook).toMatchObject({
        url: receiver.url,
        events: ['key.rotated'],
        createdBy: expect.any(String),
        state: 'active',
        failureReason: null,
        lastDeliveryAt: null,
        nextAttemptAt: null,
      });
      expect(hook.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(JSON.stringify(hook)).not.toContain(secret);
      expect(hook).not.toHaveProperty('secret');

      const listed = await ctx.admin.listWebhooks();
      expect(listed.webhooks.map((w) => w.id)).toContain(hook.id);
      expect(JSON.stringify(listed)).not.toContain(secret);
      const got = await ctx.admin.getWebhook(hook.id);
      expect(got).toMatchObject({ id: hook.id, url: receiver.url, events: ['key.rotated'] });
      expect(JSON.stringify(got)).not.toContain(secret);

      // A created key is not subscribed; a rotation is.
      await ctx.admin.createKey({ name: 'ev-hook-other', algorithm: 'aes-256-gcm', owner: 'team-events' });
      await ctx.admin.rotateKey('ev-hook', { reason: 'webhook test' });

      const deliveries = await waitFor('a delivery', async () => {
        const page = await ctx.admin.webhookDeliveries(hook.id);
        return page.deliveries.length > 0 ? page.deliveries : undefined;
      });
      const delivery = deliveries[0] as WebhookDeliveryView;
      expect(delivery).toMatchObject({ eventType: 'key.rotated', attempt: 1, status: 200, error: null, nextRetryAt: null });
      expect(delivery.durationMs).toBeGreaterThanOrEqual(0);
      expect(JSON.stringify(deliveries)).not.toContain(secret);

      expect(receiver.received).toHaveLength(1);
      const request = receiver.received[0] as Received;
      const event = JSON.parse(request.body) as KeyEventView;
      expect(event).toMatchObject({ id: delivery.eventId, type: 'key.rotated', key: 'ev-hook', version: 2 });
      expect(request.headers['content-type']).toMatch(/^application\/json/);
      expect(request.headers['x-keyward-event']).toBe('key.rotated');
      expect(request.headers['x-keyward-delivery']).toBe(delivery.id);
      expect(JSON.stringify(request.headers)).not.toContain(secret);
      expect(request.body).not.toContain(secret);

      const signature = request.headers['x-keyward-signature'];
      expect(typeof signature).toBe('string');
      expect(signatureMatches(secret, signature as string, request.body)).toBe(true);
      const t = Number(/^t=([0-9]+),/.exec(signature as string)?.[1]);
      expect(Math.abs(Date.now() / 1000 - t)).toBeLessThan(300);
      // Not valid under another secret, nor over another body.
      expect(signatureMatches(`${secret}x`, signature as string, request.body)).toBe(false);
      expect(signatureMatches(secret, signature as string, `${request.body} `)).toBe(false);

      const after = await ctx.admin.getWebhook(hook.id);
      expect(after.state).toBe('active');
      expect(after.lastDeliveryAt).not.toBeNull();
      expect(after.cursor).toBeGreaterThanOrEqual(event.id);

      await ctx.admin.removeWebhook(hook.id);
      const gone = await ctx.admin.getWebhook(hook.id).catch((e: unknown) => e);
      expect(gone).toBeInstanceOf(KeywardApiError);
      expect(gone).toMatchObject({ code: 'not_found', status: 404 });
      await expect(ctx.admin.webhookDeliveries(hook.id)).rejects.toMatchObject({ code: 'not_found' });
      await expect(ctx.admin.removeWebhook(hook.id)).rejects.toMatchObject({ code: 'not_found' });
      expect((await ctx.admin.listWebhooks()).webhooks.map((w) => w.id)).not.toContain(hook.id);
    } finally {
      await receiver.close();
    }
  });

  it('refuses bad webhook requests without echoing the secret', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    ctx.server.remember(secret);
    const credentials = await ctx.admin
      .createWebhook({ url: 'http://user:pw@127.0.0.1:9/hook', events: ['key.rotated'], secret })
      .catch((e: unknown) => e);
    expect(credentials).toMatchObject({ code: 'invalid_request', status: 400 });
    expect((credentials as Error).message).not.toContain(secret);

    await expect(ctx.admin.createWebhook({ url: 'ftp://127.0.0.1/hook', events: ['key.rotated'], secret })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(ctx.admin.createWebhook({ url: 'http://127.0.0.1:9/hook', events: [], secret })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    const short = randomBytes(12).toString('base64url').slice(0, 15);
    ctx.server.remember(short);
    const tooShort = await ctx.admin
      .createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['key.rotated'], secret: short })
      .catch((e: unknown) => e);
    expect(tooShort).toMatchObject({ code: 'invalid_request', status: 400 });
    expect((tooShort as Error).message).not.toContain(short);

    await expect(ctx.admin.getWebhook('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });
});
