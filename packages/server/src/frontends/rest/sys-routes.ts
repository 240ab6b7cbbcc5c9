import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';

export function sysRoutes(app: FastifyInstance, keyward: Keyward): void {
  app.get(
    '/v1/sys/health',
    { schema: { tags: ['sys'], summary: 'Initialization and seal state; no credential needed' } },
    async (_req, reply) => {
      const health = keyward.sys.health();
      return reply.code(health.initialized && !health.sealed ? 200 : 503).send(health);
    },
  );

  app.post<{ Body: { shares: number; threshold: number } }>(
    '/v1/sys/init',
    {
      schema: {
        tags: ['sys'],
        summary: 'Initialize a Shamir-sealed server: returns the unseal shares and the first admin token, once',
        body: {
          type: 'object',
          required: ['shares', 'threshold'],
          additionalProperties: false,
          properties: { shares: { type: 'integer', minimum: 2, maximum: 255 }, threshold: { type: 'integer', minimum: 2, maximum: 255 } },
        },
      },
    },
    async (req) => keyward.sys.init(callContext(req), req.body),
  );

  app.post<{ Body: { share: string } }>(
    '/v1/sys/unseal',
    {
      schema: {
        tags: ['sys'],
        summary: 'Submit one unseal share',
        body: {
          type: 'object',
          required: ['share'],
          additionalProperties: false,
          properties: { share: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (req) => keyward.sys.unseal(callContext(req), req.body.share),
  );

  app.post(
    '/v1/sys/seal',
    {
      schema: {
        tags: ['sys'],
        summary: 'Seal: zero the root key and every cached secret (admin)',
        // No body: none, `{}` or `null`; any field is unknown (never silently ignored).
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
      },
    },
    async (req, reply) => {
      await keyward.sys.seal(callContext(req));
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { recipients: string[] } }>(
    '/v1/sys/backup',
    {
      schema: {
        tags: ['sys'],
        summary: 'Stream an encrypted backup of the whole store, age-encrypted to the recipients (admin; docs/operations.md)',
        body: {
          type: 'object',
          required: ['recipients'],
          additionalProperties: false,
          properties: {
            recipients: { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 4096 } },
          },
        },
      },
    },
    async (req, reply) => {
      const backup = await keyward.backups.create(callContext(req), req.body.recipients);
      const name = `keyward-backup-${backup.createdAt.replace(/[:.]/g, '-')}.age`;
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .send(backup.stream);
    },
  );

  app.get('/v1/auth/self', { schema: { tags: ['sys'], summary: 'The calling principal and its roles' } }, async (req) =>
    keyward.principals.self(callContext(req)),
  );
}
