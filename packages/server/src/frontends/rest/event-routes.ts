import type { ServerResponse } from 'node:http';
import { type CreateWebhookRequest, KeywardError } from '@keyward/wire';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type EventStream, parseEventTypes } from '../../events/event-service.js';
import { eventView } from '../../events/views.js';
import type { Keyward } from '../../service/keyward.js';
import { EVENT_TYPES } from '../../store/records.js';
import { callContext } from './call-context.js';
import { logRequest } from './request-log.js';
import { DEFAULT_PAGE, paging } from './schemas.js';

const EVENT_ID = /^(0|[1-9][0-9]{0,14})$/;
const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: uuid } } as const;

function eventId(field: string, text: string): number {
  if (!EVENT_ID.test(text)) throw new KeywardError('invalid_request', `${field}: must be an event id (a non-negative integer)`);
  return Number(text);
}

/** `GET /v1/events` (Server-Sent Events) and the webhook endpoints (docs/events.md). */
export function eventRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { events, webhooks } = keyward;
  const { heartbeatMs } = keyward.eventOptions;
  // Open streams, ended when the server closes so that app.close() does not wait for clients.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get<{ Querystring: { from?: string; types?: string } }>(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Key events as Server-Sent Events (text/event-stream); resumable with Last-Event-ID',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { from: { type: 'string', maxLength: 20 }, types: { type: 'string', maxLength: 1024 } },
        },
      },
    },
    async (req, reply) => {
      // Last-Event-ID (sent by a reconnecting EventSource) wins over `from` in the URL it reconnects to.
      const header = req.headers['last-event-id'];
      const resume = typeof header === 'string' && header.trim() !== '' ? eventId('Last-Event-ID', header.trim()) : null;
      const from = req.query.from === undefined ? null : eventId('querystring.from', req.query.from);
      const types = req.query.types === undefined ? null : parseEventTypes('querystring.types', req.query.types);
      // Authentication and authorization happen here, before any byte of the stream: a refusal is a JSON error.
      const stream = await events.subscribe(callContext(req), { after: resume ?? from, types });
      reply.hijack();
      serve(req, reply.raw, stream);
      return reply;
    },
  );

  function serve(req: FastifyRequest, res: ServerResponse, stream: EventStream): void {
    let sent = 0;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      open.delete(end);
      clearInterval(heartbeat);
      stream.close();
      if (!res.writableEnded) res.end();
      logRequest(req.log, 200, Math.round(performance.now() - started), () => ({
        requestId: req.id,
        method: req.method,
        route: '/v1/events',
        source: req.ip,
        events: sent,
      }));
    };
    const started = performance.now();
    open.add(end);
    res.on('close', end);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': req.id,
    });
    res.write(`: keyward events from ${stream.cursor}\nretry: 2000\n\n`);
    const write = async (chunk: string): Promise<void> => {
      if (ended) return;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    };
    // Keeps proxies from timing the stream out and re-checks the caller's token: a revoked one ends the stream.
    const heartbeat = setInterval(() => {
      void stream.revalidate().then((allowed) => {
        if (!allowed) end();
        else void write(': heartbeat\n\n');
      });
    }, heartbeatMs);
    heartbeat.unref();
    void (async () => {
      try {
        for (;;) {
          const batch = await stream.next();
          if (batch === null || ended) break;
          let chunk = '';
          for (const event of batch) {
            chunk += `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`;
          }
          sent += batch.length;
          await write(chunk);
        }
      } catch (error) {
        req.log.error(
          { requestId: req.id, err: { type: (error as Error).name, code: (error as { code?: unknown }).code } },
          'event stream failed',
        );
      } finally {
        end();
      }
    })();
  }

  app.post<{ Body: CreateWebhookRequest }>(
    '/v1/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook; deliveries are signed with the secret, which is never shown again',
        body: {
          type: 'object',
          required: ['url', 'events', 'secret'],
          additionalProperties: false,
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2048 },
            events: {
              type: 'array',
              minItems: 1,
              maxItems: EVENT_TYPES.length,
              uniqueItems: true,
              items: { type: 'string', enum: [...EVENT_TYPES] },
            },
            secret: { type: 'string', minLength: 16, maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => reply.code(201).send(await webhooks.create(callContext(req), req.body)),
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/webhooks',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List webhooks',
        querystring: { type: 'object', additionalProperties: false, properties: { ...paging, cursor: { ...paging.cursor, ...uuid } } },
      },
    },
    async (req) => webhooks.list(callContext(req), req.query.limit ?? DEFAULT_PAGE, req.query.cursor ?? null),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { schema: { tags: ['webhooks'], summary: 'A webhook', params: idParams } },
    async (req) => webhooks.get(callContext(req), req.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhooks/:id',
    { schema: { tags: ['webhooks'], summary: 'Remove a webhook and its delivery log', params: idParams } },
    async (req, reply) => {
      await webhooks.remove(callContext(req), req.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number; cursor?: string } }>(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Delivery attempts of a webhook, newest first',
        params: idParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...paging, cursor: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' } },
        },
      },
    },
    async (req) => webhooks.deliveries(callContext(req), req.params.id, req.query.limit ?? DEFAULT_PAGE, req.query.cursor ?? null),
  );
}
