import type { ConfirmTotpRequest } from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import { PRINCIPAL_ID_PATTERN } from '../../keys/names.js';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';

const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: PRINCIPAL_ID_PATTERN } },
} as const;

/** TOTP second factors (docs/governance.md, "People: OIDC and second factors"). */
export function totpRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { totp } = keyward;

  app.post(
    '/v1/auth/totp',
    {
      schema: {
        tags: ['principals'],
        summary: 'Enrol a TOTP authenticator for the calling user; the secret is shown once; pending until confirmed',
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
      },
    },
    async (req, reply) => reply.code(201).send(await totp.enrol(callContext(req))),
  );

  app.post<{ Body: ConfirmTotpRequest }>(
    '/v1/auth/totp/confirm',
    {
      schema: {
        tags: ['principals'],
        summary: "Confirm the calling user's pending TOTP authenticator with its current code",
        body: {
          type: 'object',
          required: ['code'],
          additionalProperties: false,
          properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } },
        },
      },
    },
    async (req) => totp.confirm(callContext(req), req.body.code),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/principals/:id/totp',
    { schema: { tags: ['principals'], summary: "Remove a principal's TOTP authenticator (admin; recovery)", params: idParams } },
    async (req, reply) => {
      await totp.remove(callContext(req), req.params.id);
      return reply.code(204).send();
    },
  );
}
