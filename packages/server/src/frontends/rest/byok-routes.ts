import {
  EXPORT_WRAPPING_ALGORITHMS,
  type ExportKeyRequest,
  IMPORT_WRAPPING_ALGORITHMS,
  type ImportKeyRequest,
  type ImportWrappingAlgorithm,
} from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { decodeBase64 } from './base64.js';
import { callContext } from './call-context.js';
import { held } from './held.js';
import { base64, keyParams, name } from './schemas.js';

const importAlgorithm = { type: 'string', enum: [...IMPORT_WRAPPING_ALGORITHMS] } as const;
const exportAlgorithm = { type: 'string', enum: [...EXPORT_WRAPPING_ALGORITHMS] } as const;
/** A PEM SubjectPublicKeyInfo: an RSA-16384 key is under 3 KiB of PEM, an ML-KEM-768 one about 1.7 KiB. */
const publicKey = { type: 'string', minLength: 1, maxLength: 8192 } as const;
const importToken = { type: 'string', minLength: 1, maxLength: 256 } as const;

const versionParams = {
  type: 'object',
  required: ['name', 'version'],
  additionalProperties: false,
  properties: { name, version: { type: 'integer', minimum: 1, maximum: 2 ** 31 } },
} as const;

type Params = { name: string };

/** BYOK import and wrapped export (docs/transit.md). */
export function byokRoutes(app: FastifyInstance, keyward: Keyward): void {
  app.get<{ Params: Params; Querystring: { algorithm: ImportWrappingAlgorithm } }>(
    '/v1/keys/:name/import-parameters',
    {
      schema: {
        tags: ['keys'],
        summary: 'BYOK: the RSA-4096 wrapping public key and a single-use import token (24 hours) for importing material into the key',
        params: keyParams,
        querystring: {
          type: 'object',
          required: ['algorithm'],
          additionalProperties: false,
          properties: { algorithm: importAlgorithm },
        },
      },
    },
    async (req) => keyward.byok.importParameters(callContext(req), req.params.name, req.query.algorithm),
  );

  app.post<{ Params: Params; Body: ImportKeyRequest }>(
    '/v1/keys/:name/import',
    {
      schema: {
        tags: ['keys'],
        summary: 'BYOK: import wrapped symmetric material as the new primary version (origin imported)',
        params: keyParams,
        body: {
          type: 'object',
          required: ['importToken', 'wrappedKey', 'algorithm'],
          additionalProperties: false,
          properties: { importToken, wrappedKey: { ...base64, minLength: 1, maxLength: 16384 }, algorithm: importAlgorithm },
        },
      },
    },
    async (req) =>
      keyward.byok.importKey(callContext(req), req.params.name, {
        importToken: req.body.importToken,
        wrappedKey: decodeBase64('wrappedKey', req.body.wrappedKey),
        algorithm: req.body.algorithm,
      }),
  );

  app.post<{ Params: Params & { version: number }; Body: ExportKeyRequest }>(
    '/v1/keys/:name/versions/:version/export',
    {
      schema: {
        tags: ['keys'],
        summary:
          "Wrapped export: a version's material wrapped for a recipient public key (exportable keys only; held for the class's export quorum)",
        params: versionParams,
        body: {
          type: 'object',
          required: ['publicKey', 'algorithm'],
          additionalProperties: false,
          properties: { publicKey, algorithm: exportAlgorithm },
        },
      },
    },
    async (req, reply) =>
      held(
        reply,
        await keyward.byok.exportVersion(callContext(req), req.params.name, req.params.version, {
          publicKey: req.body.publicKey,
          algorithm: req.body.algorithm,
        }),
      ),
  );
}
