import type { CreateWebhookRequest, EventType, KeyEventView, WebhookDeliveryView, WebhookView } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { pickDefined } from './pick-defined.js';
import { ReportsApi } from './reports-api.js';
import type { PageQuery } from './sdk-types.js';

/** Options of {@link EventsApi.events}. */
export interface EventStreamOptions {
  /** Events with an id above this (resume after the last one you handled); default: only events from now on. */
  from?: number;
  /** Only these types. */
  types?: readonly EventType[];
  /** Ends the stream. */
  signal?: AbortSignal;
  /**
   * Called once the server accepted the stream (before any event): what a
   * cache uses to refresh what it holds, knowing that every later change
   * arrives on the stream.
   */
  onOpen?: () => void;
}

/** A page of webhooks. */
export interface WebhookList {
  webhooks: WebhookView[];
  nextCursor: string | null;
}

/** A page of delivery attempts, newest first. */
export interface WebhookDeliveryList {
  deliveries: WebhookDeliveryView[];
  nextCursor: string | null;
}

/** Parses a text/event-stream body into the `data:` payloads of its messages (comments and `retry:` are skipped). */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const data = frame
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
        if (data.length > 0) yield data.join('\n');
      }
    }
  } finally {
    // Leaving early (break, return, an error) must close the connection, not only release the lock:
    // otherwise the server keeps streaming to a caller that has gone.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Key events (a live stream) and webhooks (docs/events.md). */
export class EventsApi extends ReportsApi {
  /**
   * Key events as they are committed, oldest first, from `GET /v1/events`
   * (Server-Sent Events). Keep the last `id` you handled and pass it as
   * `from` to resume without gaps after a disconnect.
   *
   * @example
   * for await (const event of client.events({ types: ['key.rotated'] })) console.log(event.id, event.key);
   */
  async *events(options: EventStreamOptions = {}): AsyncGenerator<KeyEventView> {
    const query: Record<string, string | number | undefined> = {
      from: options.from,
      types: options.types === undefined ? undefined : options.types.join(','),
    };
    const response = await this.transport.stream('/events', { query, ...(options.signal ? { signal: options.signal } : {}) });
    options.onOpen?.();
    try {
      for await (const data of sseData(response.body as ReadableStream<Uint8Array>)) yield JSON.parse(data) as KeyEventView;
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
  }

  /**
   * Registers a webhook; the secret signs every delivery and is never shown again.
   *
   * @example
   * await client.createWebhook({ url: 'https://hooks.example.com/keyward', events: ['key.rotated'], secret });
   */
  createWebhook(request: CreateWebhookRequest): Promise<WebhookView> {
    return this.transport.request<WebhookView>('POST', '/webhooks', { body: request });
  }

  /** One page of webhooks. */
  listWebhooks(query: PageQuery = {}): Promise<WebhookList> {
    return this.transport.request<WebhookList>('GET', '/webhooks', { query: pickDefined(query, ['limit', 'cursor']) });
  }

  /** One webhook, with its delivery state. */
  getWebhook(id: string): Promise<WebhookView> {
    return this.transport.request<WebhookView>('GET', apiPath`/webhooks/${id}`);
  }

  /** Removes a webhook and its delivery log. */
  async removeWebhook(id: string): Promise<void> {
    await this.transport.request<undefined>('DELETE', apiPath`/webhooks/${id}`);
  }

  /**
   * One page of delivery attempts of a webhook, newest first.
   *
   * @example
   * const { deliveries } = await client.webhookDeliveries(hook.id, { limit: 20 });
   */
  webhookDeliveries(id: string, query: PageQuery = {}): Promise<WebhookDeliveryList> {
    return this.transport.request<WebhookDeliveryList>('GET', apiPath`/webhooks/${id}/deliveries`, {
      query: pickDefined(query, ['limit', 'cursor']),
    });
  }
}
