import { randomUUID } from 'node:crypto';
import { type CreateWebhookRequest, KeywardError, type WebhookDeliveryView, type WebhookView } from '@keyward/wire';
import { zero } from '../seal/zero.js';
import type { CallContext } from '../service/context.js';
import type { Gate } from '../service/gate.js';
import type { Keyring } from '../service/keyring.js';
import { EVENT_TYPES, type EventType, type WebhookRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { webhookSecretAad } from './signature.js';
import { deliveryView, webhookView } from './views.js';

export const MIN_SECRET_LENGTH = 16;
export const MAX_SECRET_LENGTH = 256;
export const MAX_URL_LENGTH = 2048;

/**
 * A webhook URL: http or https only, no credentials (the signing secret
 * authenticates Keyward to the receiver; passwords in URLs end up in logs)
 * and no fragment.
 */
export function checkWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new KeywardError('invalid_request', 'url: not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KeywardError('invalid_request', `url: must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username !== '' || url.password !== '') throw new KeywardError('invalid_request', 'url: must not contain credentials');
  if (url.hash !== '') throw new KeywardError('invalid_request', 'url: must not contain a fragment');
  return url;
}

/** Webhook subscriptions: create, list, read, remove, and their delivery log. */
export class WebhookService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #keyring: Keyring;

  constructor(deps: { gate: Gate; store: Store; keyring: Keyring }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
  }

  /**
   * Registers a webhook. It receives events committed from now on (its
   * cursor starts at the newest event). The secret is wrapped under the root
   * key, bound to the webhook id, and never returned or recorded.
   */
  create(ctx: CallContext, req: CreateWebhookRequest): Promise<WebhookView> {
    return this.#gate.run(ctx, 'webhook.manage', async (scope) => {
      scope.authorize();
      const url = checkWebhookUrl(req.url);
      if (req.secret.length < MIN_SECRET_LENGTH || req.secret.length > MAX_SECRET_LENGTH) {
        throw new KeywardError('invalid_request', `secret: must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters`);
      }
      const unknown = req.events.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
      if (unknown !== undefined) throw new KeywardError('invalid_request', `events: unknown event type '${unknown}'`);
      const id = randomUUID();
      scope.details.webhookId = id;
      // The origin only: some receivers carry a capability in the path or query.
      scope.details.destination = url.origin;
      scope.details.events = [...new Set(req.events)].join(',');
      const secret = new TextEncoder().encode(req.secret);
      let wrapped: Uint8Array;
      try {
        wrapped = await this.#keyring.wrapSecret(webhookSecretAad(id), secret);
      } finally {
        zero(secret);
      }
      const record: WebhookRecord = {
        id,
        url: req.url,
        events: [...new Set(req.events)] as EventType[],
        secret: wrapped,
        createdAt: scope.now.toISOString(),
        createdBy: scope.principal.id,
        state: 'active',
        failureReason: null,
        cursor: 0,
        attempts: 0,
        nextAttemptAt: null,
        lastDeliveryAt: null,
      };
      await this.#store.transaction(async (tx) => {
        record.cursor = await tx.lastEventId();
        await tx.insertWebhook(record);
        await scope.recordIn(tx);
      });
      return webhookView(record);
    });
  }

  list(ctx: CallContext, limit: number, cursor: string | null): Promise<{ webhooks: WebhookView[]; nextCursor: string | null }> {
    return this.#gate.run(ctx, 'webhook.read', async (scope) => {
      scope.authorize();
      const rows = await this.#store.listWebhooks(limit + 1, cursor);
      const page = rows.slice(0, limit);
      return { webhooks: page.map(webhookView), nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
    });
  }

  get(ctx: CallContext, id: string): Promise<WebhookView> {
    return this.#gate.run(ctx, 'webhook.read', async (scope) => {
      scope.authorize();
      scope.details.webhookId = id;
      return webhookView(await this.#webhook(id));
    });
  }

  remove(ctx: CallContext, id: string): Promise<void> {
    return this.#gate.run(ctx, 'webhook.manage', async (scope) => {
      scope.authorize();
      scope.details.webhookId = id;
      await this.#store.transaction(async (tx) => {
        if (!(await tx.deleteWebhook(id))) throw new KeywardError('not_found', `webhook '${id}' does not exist`);
        await scope.recordIn(tx);
      });
    });
  }

  /** Delivery attempts, newest first; the cursor is the last sequence number of the previous page. */
  deliveries(
    ctx: CallContext,
    id: string,
    limit: number,
    cursor: string | null,
  ): Promise<{ deliveries: WebhookDeliveryView[]; nextCursor: string | null }> {
    return this.#gate.run(ctx, 'webhook.read', async (scope) => {
      scope.authorize();
      scope.details.webhookId = id;
      await this.#webhook(id);
      const rows = await this.#store.listWebhookDeliveries(id, limit + 1, cursor === null ? null : Number(cursor));
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { deliveries: page.map(deliveryView), nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null };
    });
  }

  async #webhook(id: string): Promise<WebhookRecord> {
    const webhook = await this.#store.getWebhook(id);
    if (webhook === null) throw new KeywardError('not_found', `webhook '${id}' does not exist`);
    return webhook;
  }
}
