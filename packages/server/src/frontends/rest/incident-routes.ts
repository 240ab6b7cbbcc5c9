import {
  type DeclareIncidentRequest,
  INCIDENT_STATES,
  INCIDENT_TYPES,
  type IncidentListQuery,
  type IncidentProgressLine,
  type IncidentRewrapRequest,
  type PatchIncidentRequest,
} from '@keyward/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { toWireError } from './error-table.js';
import { logRequest } from './request-log.js';
import { context, DEFAULT_PAGE, duration, name, ownerId, paging, reason } from './schemas.js';
import { MAX_BATCH_ITEMS } from './validation.js';

const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: uuid } } as const;
const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
/** A calendar date or an RFC 3339 time (the service checks the calendar). */
const due = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2}))?$' } as const;

const declareBody = {
  type: 'object',
  required: ['type', 'key', 'reason'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: [...INCIDENT_TYPES] },
    key: name,
    version: { type: 'integer', minimum: 1, maximum: 2 ** 31 },
    reason: { ...reason, minLength: 1 },
    raiseMinDecryptionVersionAfter: duration,
  },
} as const;

const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    rootCause: text(8192),
    followUps: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['action', 'owner', 'done'],
        additionalProperties: false,
        properties: { action: text(1024), owner: ownerId, due, done: { type: 'boolean' } },
      },
    },
    state: { type: 'string', enum: ['closed'] },
    waiveRecovery: text(1024),
  },
} as const;

const rewrapBody = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    items: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BATCH_ITEMS,
      items: {
        type: 'object',
        required: ['ciphertext'],
        additionalProperties: false,
        properties: { ciphertext: { type: 'string', minLength: 1, maxLength: 1024 * 1024 }, context },
      },
    },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { state: { type: 'string', enum: [...INCIDENT_STATES] }, key: name, ...paging },
} as const;

const NDJSON = 'application/x-ndjson';

/** Whether the client asked for the steps as they happen (`Accept: application/x-ndjson`). */
function wantsProgress(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.split(',').some((part) => part.trim().split(';')[0]?.trim().toLowerCase() === NDJSON);
}

/**
 * `/v1/incidents` (docs/incident-response.md): declare a key compromise (the
 * answer can stream the playbook's steps as NDJSON), list, read, update and
 * close incidents, the live blast radius, and the recovery rewrap.
 */
export function incidentRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { incidents } = keyward;

  app.post<{ Body: DeclareIncidentRequest }>(
    '/v1/incidents',
    {
      schema: {
        tags: ['incidents'],
        summary:
          'Declare a key version compromised and run the playbook: contain, rotate, notify, blast radius, recovery (Accept: application/x-ndjson streams the steps)',
        body: declareBody,
      },
    },
    async (req, reply) => {
      const ctx = callContext(req);
      if (!wantsProgress(req)) return reply.code(201).send(await incidents.declare(ctx, req.body));
      return declareStreaming(req, reply, (onStep) => incidents.declare(ctx, req.body, onStep));
    },
  );

  app.get<{ Querystring: IncidentListQuery }>(
    '/v1/incidents',
    { schema: { tags: ['incidents'], summary: "Incidents of the request's namespace, newest first", querystring: listQuery } },
    async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return incidents.list(callContext(req), { ...filter, limit: limit ?? DEFAULT_PAGE, cursor: cursor ?? null });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/incidents/:id',
    {
      schema: {
        tags: ['incidents'],
        summary: 'An incident: steps, containment per node, recovery progress, the blast radius found at the declaration',
        params: idParams,
      },
    },
    async (req) => incidents.get(callContext(req), req.params.id),
  );

  app.patch<{ Params: { id: string }; Body: PatchIncidentRequest }>(
    '/v1/incidents/:id',
    {
      schema: {
        tags: ['incidents'],
        summary: 'Record the root cause and follow-ups, waive recovery, or close the incident',
        params: idParams,
        body: patchBody,
      },
    },
    async (req) => incidents.patch(callContext(req), req.params.id, req.body),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/incidents/:id/blast-radius',
    {
      schema: {
        tags: ['incidents'],
        summary: 'Who used the version, from where and for what, recounted from the audit trail now',
        params: idParams,
      },
    },
    async (req) => incidents.blastRadius(callContext(req), req.params.id),
  );

  app.post<{ Params: { id: string }; Body: IncidentRewrapRequest }>(
    '/v1/incidents/:id/rewrap',
    {
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        tags: ['incidents'],
        summary: "Re-encrypt ciphertexts under the key's primary version (each item a rewrap of its own) and answer recovery progress",
        params: idParams,
        body: rewrapBody,
      },
    },
    async (req) => incidents.rewrap(callContext(req), req.params.id, req.body.items),
  );
}

/**
 * Answers a declaration as NDJSON: one line per step as it starts and
 * finishes, then the incident. The status and headers go out with the first
 * step, once containment has committed; a refusal before that (validation,
 * authorization, a conflict) is an ordinary JSON error. A failure after it
 * is the last line.
 */
async function declareStreaming(
  req: FastifyRequest,
  reply: FastifyReply,
  run: (onStep: (step: Extract<IncidentProgressLine, { type: 'step' }>['step']) => void) => Promise<unknown>,
): Promise<FastifyReply> {
  const started = performance.now();
  let streaming = false;
  const write = (line: IncidentProgressLine) => {
    if (!streaming) {
      streaming = true;
      reply.hijack();
      reply.raw.writeHead(201, {
        'content-type': `${NDJSON}; charset=utf-8`,
        'cache-control': 'no-cache, no-store',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
    }
    // A client that went away misses the rest; the playbook runs on regardless.
    if (!reply.raw.writableEnded && !reply.raw.destroyed) reply.raw.write(`${JSON.stringify(line)}\n`);
  };
  let status = 201;
  try {
    const incident = (await run((step) => write({ type: 'step', step }))) as Extract<
      IncidentProgressLine,
      { type: 'incident' }
    >['incident'];
    write({ type: 'incident', incident });
  } catch (error) {
    if (!streaming) throw error;
    const wire = toWireError(error);
    status = wire.status;
    write({ type: 'error', error: { code: wire.code, message: wire.message, requestId: req.id } });
  }
  reply.raw.end();
  // The hijacked answer skips the onResponse hook: log its one line here.
  logRequest(req.log, status, Math.round((performance.now() - started) * 100) / 100, () => ({
    requestId: req.id,
    method: req.method,
    route: '/v1/incidents',
    source: req.ip,
  }));
  return reply;
}
