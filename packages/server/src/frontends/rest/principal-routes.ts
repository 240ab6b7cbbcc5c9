import {
  type CreateGrantRequest,
  type CreatePrincipalRequest,
  MAX_TLS_IDENTITIES,
  type OffboardRequest,
  TLS_IDENTITY_PATTERN,
  type UpdatePrincipalRequest,
} from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import { PRINCIPAL_ID_PATTERN } from '../../keys/names.js';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { held } from './held.js';
import { DEFAULT_PAGE, duration, environment, keyParams, name, operation, paging, principalKind, reason, role } from './schemas.js';

const principalId = { type: 'string', pattern: PRINCIPAL_ID_PATTERN } as const;
const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: principalId } } as const;
/** `uri:…` or `dns:…` (docs/api.md); the service also checks that a URI is absolute. */
const tlsIdentities = {
  type: 'array',
  maxItems: MAX_TLS_IDENTITIES,
  items: { type: 'string', maxLength: 1100, pattern: TLS_IDENTITY_PATTERN },
} as const;

export function principalRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { principals } = keyward;

  app.post<{ Body: CreatePrincipalRequest }>(
    '/v1/principals',
    {
      schema: {
        tags: ['principals'],
        summary: 'Create a principal (a user, a service or a team)',
        body: {
          type: 'object',
          required: ['id', 'kind'],
          additionalProperties: false,
          properties: {
            id: principalId,
            kind: principalKind,
            roles: { type: 'array', maxItems: 16, items: role },
            environments: { type: 'array', maxItems: 8, items: environment },
            teams: { type: 'array', maxItems: 64, items: principalId },
            tlsIdentities,
          },
        },
      },
    },
    async (req, reply) => reply.code(201).send(await principals.create(callContext(req), req.body)),
  );

  app.patch<{ Params: { id: string }; Body: UpdatePrincipalRequest }>(
    '/v1/principals/:id',
    {
      schema: {
        tags: ['principals'],
        summary: 'Change a principal (admin): its mutual-TLS identities, replaced whole',
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: { tlsIdentities } },
      },
    },
    async (req) => principals.update(callContext(req), req.params.id, req.body),
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/v1/principals',
    {
      schema: {
        tags: ['principals'],
        summary: 'List principals',
        // The cursor is the last id of the previous page: anything else is not a cursor this server issued.
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...paging, cursor: { ...paging.cursor, ...principalId } },
        },
      },
    },
    async (req) => principals.list(callContext(req), req.query.limit ?? DEFAULT_PAGE, req.query.cursor ?? null),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/principals/:id',
    { schema: { tags: ['principals'], summary: 'A principal', params: idParams } },
    async (req) => principals.get(callContext(req), req.params.id),
  );

  app.post<{ Params: { id: string }; Body: { ttl?: string; description?: string } | undefined }>(
    '/v1/principals/:id/tokens',
    {
      schema: {
        tags: ['principals'],
        summary: 'Issue a token; it is shown once and stored only as a hash',
        params: idParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { ttl: duration, description: { type: 'string', maxLength: 256 } },
        },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await principals.createToken(callContext(req), req.params.id, req.body?.ttl, req.body?.description)),
  );

  app.post<{ Params: { id: string }; Body: OffboardRequest }>(
    '/v1/principals/:id/offboard',
    {
      schema: {
        tags: ['principals'],
        summary:
          'Offboard a principal: revoke every token, remove its grants, hand its keys to another owner (review due now), rotate exportable keys it could reach where the class says so',
        params: idParams,
        body: {
          type: 'object',
          required: ['reassignTo'],
          additionalProperties: false,
          properties: { reassignTo: principalId, reason },
        },
      },
    },
    async (req) => keyward.offboarding.offboard(callContext(req), req.params.id, req.body),
  );

  app.delete<{ Params: { tokenId: string } }>(
    '/v1/tokens/:tokenId',
    {
      schema: {
        tags: ['principals'],
        summary: 'Revoke a token at once',
        params: { type: 'object', required: ['tokenId'], additionalProperties: false, properties: { tokenId: uuid } },
      },
    },
    async (req, reply) => {
      await principals.revokeToken(callContext(req), req.params.tokenId);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { name: string }; Body: CreateGrantRequest }>(
    '/v1/keys/:name/grants',
    {
      schema: {
        tags: ['grants'],
        summary: 'Grant a principal (or every member of a team) operations on a key',
        params: keyParams,
        body: {
          type: 'object',
          required: ['principal', 'operations'],
          additionalProperties: false,
          properties: { principal: principalId, operations: { type: 'array', minItems: 1, maxItems: 16, items: operation } },
        },
      },
    },
    async (req, reply) => held(reply, await principals.addGrant(callContext(req), req.params.name, req.body), 201),
  );

  app.get<{ Params: { name: string } }>(
    '/v1/keys/:name/grants',
    { schema: { tags: ['grants'], summary: 'Grants on a key', params: keyParams } },
    async (req) => principals.listGrants(callContext(req), req.params.name),
  );

  app.delete<{ Params: { name: string; grantId: string } }>(
    '/v1/keys/:name/grants/:grantId',
    {
      schema: {
        tags: ['grants'],
        summary: 'Remove a grant',
        params: { type: 'object', required: ['name', 'grantId'], additionalProperties: false, properties: { name, grantId: uuid } },
      },
    },
    async (req, reply) => {
      const pending = await principals.removeGrant(callContext(req), req.params.name, req.params.grantId);
      return pending === null ? reply.code(204).send() : reply.code(202).send(pending);
    },
  );
}
