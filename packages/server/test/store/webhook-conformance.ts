import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WebhookDeliveryRecord, WebhookRecord } from '../../src/store/records.js';
import type { StoreKind } from '../support/stores.js';
import { binary, bytes, useStores } from './store-fixtures.js';

function webhookRecord(overrides: Partial<WebhookRecord> = {}): WebhookRecord {
  return {
    id: randomUUID(),
    url: 'https://hooks.example.com/keyward?x=1',
    events: ['key.created', 'key.rotated'],
    secret: binary(60),
    createdAt: '2026-06-01T00:00:00.000Z',
    createdBy: 'admin',
    state: 'active',
    failureReason: null,
    cursor: 0,
    attempts: 0,
    nextAttemptAt: null,
    lastDeliveryAt: null,
    ...overrides,
  };
}

function delivery(webhookId: string, overrides: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord {
  return {
    id: randomUUID(),
    webhookId,
    eventId: 1,
    eventType: 'key.created',
    attempt: 1,
    time: '2026-06-01T00:00:00.000Z',
    status: 200,
    error: null,
    durationMs: 12,
    nextRetryAt: null,
    ...overrides,
  };
}

/** Webhooks and their delivery log, part of the Store contract (src/store/store.ts). */
export function describeWebhookConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: webhooks`, () => {
    const open = useStores(kind);

    it('round-trips a webhook, wrapped secret bytes exactly; lists by id in pages', async () => {
      const { store } = await open();
      const hooks = [webhookRecord(), webhookRecord({ state: 'failing', failureReason: 'why', cursor: 2 ** 40 }), webhookRecord()];
      for (const w of hooks) await store.insertWebhook(w);
      const first = hooks[0] as WebhookRecord;
      const got = await store.getWebhook(first.id);
      expect(got).toEqual(first);
      expect(bytes(got!.secret)).toEqual(bytes(first.secret));
      expect(await store.getWebhook(randomUUID())).toBeNull();
      const sorted = [...hooks].sort((a, b) => a.id.localeCompare(b.id));
      expect(await store.listWebhooks(10, null)).toEqual(sorted);
      expect(await store.listWebhooks(1, null)).toEqual(sorted.slice(0, 1));
      expect(await store.listWebhooks(10, sorted[0]!.id)).toEqual(sorted.slice(1));
    });

    it('moves progress, answering false for a webhook that is gone', async () => {
      const { store } = await open();
      const w = webhookRecord();
      await store.insertWebhook(w);
      const progress = {
        state: 'failing' as const,
        failureReason: 'event 7 not delivered',
        cursor: 7,
        attempts: 3,
        nextAttemptAt: '2026-06-01T01:00:00.000Z',
        lastDeliveryAt: '2026-06-01T00:30:00.000Z',
      };
      expect(await store.updateWebhookProgress(w.id, progress)).toBe(true);
      expect(await store.getWebhook(w.id)).toEqual({ ...w, ...progress });
      expect(await store.updateWebhookProgress(randomUUID(), progress)).toBe(false);
    });

    it('logs deliveries per webhook, newest first, paged by sequence; deleting a webhook deletes its log', async () => {
      const { store } = await open();
      const a = webhookRecord();
      const b = webhookRecord();
      await store.insertWebhook(a);
      await store.insertWebhook(b);
      const attempts = [
        delivery(a.id, { attempt: 1, status: 500, nextRetryAt: '2026-06-01T00:00:10.000Z' }),
        delivery(b.id),
        delivery(a.id, { attempt: 2, status: null, error: 'ECONNREFUSED', eventId: 2 ** 40 }),
        delivery(a.id, { attempt: 3, status: 204 }),
      ];
      for (const d of attempts) await store.appendWebhookDelivery(d);
      const log = await store.listWebhookDeliveries(a.id, 10, null);
      expect(log.map(({ seq: _seq, ...d }) => d)).toEqual([attempts[3], attempts[2], attempts[0]]);
      expect(log[0]!.seq).toBeGreaterThan(log[1]!.seq);
      expect(await store.listWebhookDeliveries(a.id, 2, null)).toEqual(log.slice(0, 2));
      expect(await store.listWebhookDeliveries(a.id, 10, log[1]!.seq)).toEqual(log.slice(2));
      expect(await store.deleteWebhook(a.id)).toBe(true);
      expect(await store.deleteWebhook(a.id)).toBe(false);
      expect(await store.getWebhook(a.id)).toBeNull();
      expect(await store.listWebhookDeliveries(a.id, 10, null)).toEqual([]);
      expect(await store.listWebhookDeliveries(b.id, 10, null)).toHaveLength(1);
    });

    it('writes a delivery and progress together in a transaction, or neither', async () => {
      const { store } = await open();
      const w = webhookRecord();
      await store.insertWebhook(w);
      await expect(
        store.transaction(async (tx) => {
          await tx.updateWebhookProgress(w.id, { ...w, cursor: 9 });
          await tx.appendWebhookDelivery(delivery(w.id));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect((await store.getWebhook(w.id))!.cursor).toBe(0);
      expect(await store.listWebhookDeliveries(w.id, 10, null)).toEqual([]);
    });
  });
}
