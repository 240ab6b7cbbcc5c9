import type { KeyEventView, WebhookDeliveryView, WebhookView } from '@keyward/wire';
import type { StoredKeyEvent, StoredWebhookDelivery, WebhookRecord } from '../store/records.js';

/** An event as clients see it: the SSE `data:` and the webhook body (field order fixed, so bodies are stable). */
export function eventView(e: StoredKeyEvent): KeyEventView {
  return { id: e.id, type: e.type, time: e.time, namespace: e.namespace, key: e.key, keyId: e.keyId, version: e.version, data: e.data };
}

/** A webhook without its secret, which is never shown. */
export function webhookView(w: WebhookRecord): WebhookView {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    createdAt: w.createdAt,
    createdBy: w.createdBy,
    state: w.state,
    failureReason: w.failureReason,
    cursor: w.cursor,
    lastDeliveryAt: w.lastDeliveryAt,
    nextAttemptAt: w.nextAttemptAt,
  };
}

export function deliveryView(d: StoredWebhookDelivery): WebhookDeliveryView {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    attempt: d.attempt,
    time: d.time,
    status: d.status,
    error: d.error,
    durationMs: d.durationMs,
    nextRetryAt: d.nextRetryAt,
  };
}
