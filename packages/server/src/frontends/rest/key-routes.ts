import {
  type CreateKeyRequest,
  KEY_PROTECTIONS,
  type KeyListQuery,
  type PatchKeyRequest,
  type ReviewKeyRequest,
  type RotateKeyRequest,
} from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { held } from './held.js';
import { keyListSchema, keyViewSchema } from './responses.js';
import {
  algorithm,
  DEFAULT_PAGE,
  duration,
  environment,
  keyClass,
  keyParams,
  keyState,
  name,
  ownerId,
  paging,
  reason,
  rfc3339,
  tags,
} from './schemas.js';

const description = { type: 'string', maxLength: 1024 } as const;
const maxUses = { type: 'integer', minimum: 1, maximum: 2 ** 48 } as const;
const deletionWindowDays = { type: 'integer', minimum: 7, maximum: 30 } as const;

const createBody = {
  type: 'object',
  required: ['name', 'algorithm', 'owner'],
  additionalProperties: false,
  properties: {
    name,
    algorithm,
    owner: ownerId,
    class: keyClass,
    environment,
    description,
    tags,
    rotationPeriod: duration,
    prepublishPeriod: duration,
    originatorPeriod: duration,
    maxUsesPerVersion: maxUses,
    exportable: { type: 'boolean' },
    protection: { type: 'string', enum: [...KEY_PROTECTIONS] },
    deletionWindowDays,
  },
} as const;

const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    owner: ownerId,
    class: keyClass,
    environment,
    description,
    tags,
    rotationPeriod: { anyOf: [duration, { type: 'null' }] },
    prepublishPeriod: { anyOf: [duration, { type: 'null' }] },
    originatorPeriod: { anyOf: [duration, { type: 'null' }] },
    minDecryptionVersion: { type: 'integer', minimum: 1, maximum: 2 ** 31 },
    maxUsesPerVersion: { anyOf: [maxUses, { type: 'null' }] },
    deletionWindowDays,
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    owner: ownerId,
    class: keyClass,
    environment,
    state: keyState,
    algorithm,
    tag: { type: 'string', minLength: 3, maxLength: 400 },
    q: { type: 'string', minLength: 1, maxLength: 128 },
    ...paging,
  },
} as const;

type Params = { name: string };

/** Every key action answers the key (202 with the pending approval when it is held for a quorum). */
const ok = { 200: keyViewSchema } as const;

/** Actions that take no body: none, `{}` or `null`; any field is unknown (never silently ignored). */
const noBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

const versionParams = {
  type: 'object',
  required: ['name', 'version'],
  additionalProperties: false,
  properties: { name, version: { type: 'integer', minimum: 1, maximum: 2 ** 31 } },
} as const;

export function keyRoutes(app: FastifyInstance, keyward: Keyward): void {
  app.post<{ Body: CreateKeyRequest }>(
    '/v1/keys',
    { schema: { tags: ['keys'], summary: 'Create a key with version 1 active', body: createBody, response: { 201: keyViewSchema } } },
    async (req, reply) => reply.code(201).send(await keyward.keys.create(callContext(req), req.body)),
  );

  app.get<{ Querystring: KeyListQuery }>(
    '/v1/keys',
    { schema: { tags: ['keys'], summary: 'List keys, filtered and paged', querystring: listQuery, response: { 200: keyListSchema } } },
    async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return keyward.keys.list(callContext(req), { ...filter, limit: limit ?? DEFAULT_PAGE, cursor: cursor ?? null });
    },
  );

  app.get<{ Params: Params }>(
    '/v1/keys/:name',
    { schema: { tags: ['keys'], summary: 'A key with its versions', params: keyParams, response: ok } },
    async (req) => keyward.keys.get(callContext(req), req.params.name),
  );

  app.patch<{ Params: Params; Body: PatchKeyRequest }>(
    '/v1/keys/:name',
    { schema: { tags: ['keys'], summary: 'Change key metadata', params: keyParams, body: patchBody, response: ok } },
    async (req, reply) => held(reply, await keyward.keys.patch(callContext(req), req.params.name, req.body)),
  );

  app.post<{ Params: Params; Body: RotateKeyRequest | undefined }>(
    '/v1/keys/:name/rotate',
    {
      schema: {
        tags: ['keys'],
        summary: 'Rotate: a new primary version; older versions keep decrypting and verifying',
        params: keyParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { reason, activationDate: rfc3339 },
        },
        response: ok,
      },
    },
    async (req) => keyward.keys.rotate(callContext(req), req.params.name, req.body?.reason ?? null, req.body?.activationDate ?? null),
  );

  app.post<{ Params: Params; Body: ReviewKeyRequest | undefined }>(
    '/v1/keys/:name/review',
    {
      schema: {
        tags: ['keys'],
        summary: "Record a review of the key by its owner or a key administrator; the next one falls due a class's review interval later",
        params: keyParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { note: reason } },
        response: ok,
      },
    },
    async (req) => keyward.keys.review(callContext(req), req.params.name, req.body?.note ?? null),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: Params }>(
      `/v1/keys/:name/${action}`,
      {
        schema: {
          tags: ['keys'],
          summary: `${action === 'enable' ? 'Enable' : 'Disable'} every cryptographic operation of the key`,
          params: keyParams,
          body: noBody,
          response: ok,
        },
      },
      async (req, reply) => held(reply, await keyward.keys.setEnabled(callContext(req), req.params.name, action === 'enable')),
    );
  }

  app.post<{ Params: Params & { version: number }; Body: { reason: string } }>(
    '/v1/keys/:name/versions/:version/compromise',
    {
      schema: {
        tags: ['keys'],
        summary: 'Declare a version compromised: it only decrypts and verifies for recovery; a compromised primary rotates at once',
        params: versionParams,
        body: { type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { ...reason, minLength: 1 } } },
        response: ok,
      },
    },
    async (req) => keyward.keys.compromiseVersion(callContext(req), req.params.name, req.params.version, req.body.reason),
  );

  app.post<{ Params: Params; Body: { days?: number } | undefined }>(
    '/v1/keys/:name/schedule-deletion',
    {
      schema: {
        tags: ['keys'],
        summary: 'Schedule crypto-shredding after 7 to 30 days (never below the class minimum)',
        params: keyParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { days: { type: 'integer', minimum: 7, maximum: 30 } } },
        response: ok,
      },
    },
    async (req, reply) => held(reply, await keyward.keys.scheduleDeletion(callContext(req), req.params.name, req.body?.days ?? null)),
  );

  app.post<{ Params: Params }>(
    '/v1/keys/:name/cancel-deletion',
    {
      schema: {
        tags: ['keys'],
        summary: 'Cancel a scheduled deletion; the key returns disabled',
        params: keyParams,
        body: noBody,
        response: ok,
      },
    },
    async (req) => keyward.keys.cancelDeletion(callContext(req), req.params.name),
  );

  app.post<{ Params: Params & { version: number } }>(
    '/v1/keys/:name/versions/:version/deactivate',
    {
      schema: {
        tags: ['keys'],
        summary: 'Deactivate a non-primary version: it may still decrypt and verify, never encrypt or sign',
        params: versionParams,
        body: noBody,
        response: ok,
      },
    },
    async (req) => keyward.keys.deactivateVersion(callContext(req), req.params.name, req.params.version),
  );

  app.post<{ Params: Params & { version: number } }>(
    '/v1/keys/:name/versions/:version/destroy',
    {
      schema: {
        tags: ['keys'],
        summary: "Erase a non-primary version's material for good (deactivate it first); the metadata stays as a tombstone",
        params: versionParams,
        body: noBody,
        response: ok,
      },
    },
    async (req, reply) => held(reply, await keyward.keys.destroyVersion(callContext(req), req.params.name, req.params.version)),
  );
}
