import { ALERT_STATES, ALERT_TYPES, type AlertListQuery } from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import { MAX_NOTE_LENGTH } from '../../alerts/alert-service.js';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { name, paging } from './schemas.js';

const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: uuid } } as const;
const note = { type: 'string', minLength: 1, maxLength: MAX_NOTE_LENGTH } as const;

/** `/v1/alerts` (docs/alerts.md) and `GET /v1/sys/policy`. */
export function alertRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { alerts } = keyward;

  app.get<{ Querystring: AlertListQuery }>(
    '/v1/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Anomaly alerts, newest first; filter by state, type or key (in the request namespace)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...ALERT_STATES] },
            type: { type: 'string', enum: [...ALERT_TYPES] },
            key: name,
            limit: paging.limit,
            cursor: { type: 'string', pattern: '^[1-9][0-9]{0,14}$' },
          },
        },
      },
    },
    async (req) => alerts.list(callContext(req), req.query),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/alerts/:id',
    { schema: { tags: ['alerts'], summary: 'One alert with its evidence and next steps', params: idParams } },
    async (req) => alerts.get(callContext(req), req.params.id),
  );

  app.post<{ Params: { id: string }; Body: { note?: string } | null | undefined }>(
    '/v1/alerts/:id/acknowledge',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge an open alert (admin); the note is optional',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { note } },
      },
    },
    async (req) => alerts.acknowledge(callContext(req), req.params.id, req.body?.note ?? null),
  );

  app.post<{ Params: { id: string }; Body: { note: string } }>(
    '/v1/alerts/:id/resolve',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Resolve an open or acknowledged alert (admin), saying why',
        params: idParams,
        body: { type: 'object', required: ['note'], additionalProperties: false, properties: { note } },
      },
    },
    async (req) => alerts.resolve(callContext(req), req.params.id, req.body.note),
  );

  app.get(
    '/v1/sys/policy',
    {
      schema: {
        tags: ['sys'],
        summary: 'The policy file and Cedar policy directory in force: paths, digests, when they were loaded, why newer ones were refused',
      },
    },
    async (req) => keyward.policy.status(callContext(req)),
  );
}
