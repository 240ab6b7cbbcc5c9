import { Readable } from 'node:stream';
import { type AuditEventsQuery, KeywardError } from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import type { AuditQuery } from '../../store/records.js';
import { callContext } from './call-context.js';
import { parseTime } from './report-routes.js';
import { context, DEFAULT_PAGE, name, ownerId, paging, rfc3339 } from './schemas.js';

const emptyQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** The audit trail, for auditors (docs/audit.md). */
export function auditRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { audit } = keyward;

  app.get<{ Querystring: AuditEventsQuery }>(
    '/v1/audit/events',
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit records matching every filter given, oldest first, paged',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            namespace: name,
            key: name,
            version: { type: 'integer', minimum: 1 },
            principal: ownerId,
            action: { type: 'string', pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)+$', maxLength: 64 },
            outcome: { type: 'string', enum: ['success', 'denied', 'error'] },
            from: rfc3339,
            to: rfc3339,
            ...paging,
            cursor: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      const query: AuditQuery = {};
      if (q.namespace !== undefined) query.namespace = q.namespace;
      if (q.key !== undefined) query.key = q.key;
      if (q.version !== undefined) query.keyVersion = q.version;
      if (q.principal !== undefined) query.actor = q.principal;
      if (q.action !== undefined) query.action = q.action;
      if (q.outcome !== undefined) query.outcome = q.outcome;
      if (q.from !== undefined) query.from = parseTime('querystring.from', q.from).toISOString();
      if (q.to !== undefined) query.to = parseTime('querystring.to', q.to).toISOString();
      return audit.events(callContext(req), query, q.cursor ?? null, q.limit ?? DEFAULT_PAGE);
    },
  );

  app.get(
    '/v1/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: 'Verifies every chain against its signed checkpoints and names the first bad record',
        querystring: emptyQuery,
      },
    },
    async (req) => audit.verify(callContext(req)),
  );

  app.get(
    '/v1/audit/export',
    {
      schema: {
        tags: ['audit'],
        summary: 'The whole trail as JSON lines (application/x-ndjson), ending with a checkpoint signed for the export',
        querystring: emptyQuery,
      },
    },
    async (req, reply) => {
      const lines = await audit.export(callContext(req));
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines));
    },
  );

  app.get(
    '/v1/audit/public-key',
    {
      schema: {
        tags: ['audit'],
        summary: 'The Ed25519 public key (PEM) that signs audit checkpoints, and its id',
        querystring: emptyQuery,
      },
    },
    async (req) => audit.publicKey(callContext(req)),
  );

  app.post<{ Body: { value?: string; context?: Record<string, string> } }>(
    '/v1/audit/hash',
    {
      schema: {
        tags: ['audit'],
        summary: 'The HMAC the audit trail records for a sensitive value: a string, or an encryption context (exactly one)',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { value: { type: 'string', maxLength: 65536 }, context },
        },
      },
    },
    async (req) => {
      const { value, context: ctx } = req.body;
      if ((value === undefined) === (ctx === undefined))
        throw new KeywardError('invalid_request', 'body: give exactly one of value and context');
      return audit.hash(callContext(req), value !== undefined ? { value } : { context: ctx as Record<string, string> });
    },
  );

  app.post(
    '/v1/audit/checkpoints',
    { schema: { tags: ['audit'], summary: 'Signs a checkpoint of every chain head now (admin)' } },
    async (req, reply) => reply.code(201).send(await audit.checkpoint(callContext(req))),
  );
}
