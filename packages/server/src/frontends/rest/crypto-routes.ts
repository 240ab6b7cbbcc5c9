import type { EncryptionContext } from '@keyward/wire';
import { KeywardError } from '@keyward/wire';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CallContext } from '../../service/context.js';
import type { Keyward } from '../../service/keyward.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { callContext } from './call-context.js';
import { toWireError } from './error-table.js';
import { dataKeyResponse, decryptResponse, encryptResponse, macResponse, signResponse, verifyResponse } from './responses.js';
import { base64, context, keyParams } from './schemas.js';
import { batchable, compileItemValidator, formatValidationError } from './validation.js';

const ciphertext = { type: 'string', minLength: 1, maxLength: 1024 * 1024 } as const;
const keyVersion = { type: 'integer', minimum: 1, maximum: 2 ** 31 } as const;

const encryptItem = {
  type: 'object',
  required: ['plaintext'],
  additionalProperties: false,
  properties: { plaintext: base64, context },
} as const;
const decryptItem = { type: 'object', required: ['ciphertext'], additionalProperties: false, properties: { ciphertext, context } } as const;

/** Sign and verify take exactly one of `message` and `digest`. */
const oneInput = { oneOf: [{ required: ['message'] }, { required: ['digest'] }] } as const;

type Params = { name: string };
type Item = Record<string, unknown>;
type ItemHandler = (ctx: CallContext, name: string, item: Item) => Promise<object>;

/** Batch bodies get 16 MiB (1000 items); single operations the default limit. */
const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

function ctxOf(item: Item): EncryptionContext {
  return (item.context as EncryptionContext | undefined) ?? {};
}

/**
 * Registers an operation with a batch form: `{items:[…]}` answers per item in
 * order, and one bad item (even a malformed one) does not fail the others.
 */
function batchRoute(app: FastifyInstance, op: string, item: object, response: object, summary: string, handle: ItemHandler): void {
  const validateItem = compileItemValidator(item);
  app.post<{ Params: Params; Body: Item & { items?: Item[] } }>(
    `/v1/keys/:name/${op}`,
    {
      bodyLimit: BATCH_BODY_LIMIT,
      schema: { tags: ['crypto'], summary, params: keyParams, body: batchable(item), response: { 200: response } },
    },
    async (req: FastifyRequest<{ Params: Params; Body: Item & { items?: Item[] } }>) => {
      const ctx = callContext(req);
      const { items } = req.body;
      if (items === undefined) return handle(ctx, req.params.name, req.body);
      const results = await Promise.all(
        items.map(async (entry, index) => {
          try {
            if (!validateItem(entry)) {
              const issue = validateItem.errors?.[0];
              // A non-object item fails alone too: `items[i]: must be object`.
              const message =
                issue === undefined
                  ? 'is invalid'
                  : issue.instancePath === '' && issue.keyword === 'type'
                    ? 'must be object'
                    : formatValidationError(issue, 'body');
              throw new KeywardError('invalid_request', message);
            }
            return await handle(ctx, req.params.name, entry);
          } catch (error) {
            const wire = toWireError(error);
            return { error: { code: wire.code, message: `items[${index}]: ${wire.message}` } };
          }
        }),
      );
      return { items: results };
    },
  );
}

export function cryptoRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { crypto } = keyward;

  batchRoute(app, 'encrypt', encryptItem, encryptResponse, 'Encrypt under the primary version', async (ctx, key, item) =>
    crypto.encrypt(ctx, key, decodeBase64('plaintext', item.plaintext as string), ctxOf(item)),
  );
  batchRoute(app, 'decrypt', decryptItem, decryptResponse, 'Decrypt with the version the ciphertext names', async (ctx, key, item) => {
    const { plaintext, keyVersion } = await crypto.decrypt(ctx, key, item.ciphertext as string, ctxOf(item));
    return { plaintext: encodeBase64(plaintext), keyVersion };
  });
  batchRoute(
    app,
    'rewrap',
    decryptItem,
    encryptResponse,
    'Re-encrypt under the primary version without returning plaintext',
    async (ctx, key, item) => crypto.rewrap(ctx, key, item.ciphertext as string, ctxOf(item)),
  );

  app.post<{ Params: Params; Body: { bytes?: number; context?: EncryptionContext; includePlaintext?: boolean } }>(
    '/v1/keys/:name/data-key',
    {
      schema: {
        tags: ['crypto'],
        summary: 'Generate a data key for envelope encryption',
        params: keyParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { bytes: { type: 'integer', minimum: 1, maximum: 1024 }, context, includePlaintext: { type: 'boolean' } },
        },
        response: { 200: dataKeyResponse },
      },
    },
    async (req) => {
      const { bytes = 32, context: ctx = {}, includePlaintext = true } = req.body;
      const result = await crypto.dataKey(callContext(req), req.params.name, bytes, ctx, includePlaintext);
      return result.plaintext === undefined
        ? { ciphertext: result.ciphertext, keyVersion: result.keyVersion }
        : { plaintext: encodeBase64(result.plaintext), ciphertext: result.ciphertext, keyVersion: result.keyVersion };
    },
  );

  app.post<{ Params: Params; Body: { message?: string; digest?: string } }>(
    '/v1/keys/:name/sign',
    {
      schema: {
        tags: ['crypto'],
        summary: 'Sign a message (or a digest, for ECDSA)',
        params: keyParams,
        body: { type: 'object', additionalProperties: false, properties: { message: base64, digest: base64 }, ...oneInput },
        response: { 200: signResponse },
      },
    },
    async (req) => {
      const { signature, keyVersion } = await crypto.sign(callContext(req), req.params.name, signInput(req.body));
      return { signature: encodeBase64(signature), keyVersion };
    },
  );

  app.post<{ Params: Params; Body: { message?: string; digest?: string; signature: string; keyVersion?: number } }>(
    '/v1/keys/:name/verify',
    {
      schema: {
        tags: ['crypto'],
        summary: 'Verify a signature with the named version, or every version that may still verify',
        params: keyParams,
        body: {
          type: 'object',
          required: ['signature'],
          additionalProperties: false,
          properties: { message: base64, digest: base64, signature: base64, keyVersion },
          ...oneInput,
        },
        response: { 200: verifyResponse },
      },
    },
    async (req) =>
      crypto.verify(
        callContext(req),
        req.params.name,
        signInput(req.body),
        decodeBase64('signature', req.body.signature),
        req.body.keyVersion ?? null,
      ),
  );

  app.post<{ Params: Params; Body: { message: string } }>(
    '/v1/keys/:name/mac',
    {
      schema: {
        tags: ['crypto'],
        summary: 'Compute a MAC with the primary version',
        params: keyParams,
        body: { type: 'object', required: ['message'], additionalProperties: false, properties: { message: base64 } },
        response: { 200: macResponse },
      },
    },
    async (req) => {
      const result = await crypto.mac(callContext(req), req.params.name, decodeBase64('message', req.body.message));
      return { mac: encodeBase64(result.mac), keyVersion: result.keyVersion };
    },
  );

  app.post<{ Params: Params; Body: { message: string; mac: string } }>(
    '/v1/keys/:name/verify-mac',
    {
      schema: {
        tags: ['crypto'],
        summary: 'Verify a MAC against every version that may still verify',
        params: keyParams,
        body: { type: 'object', required: ['message', 'mac'], additionalProperties: false, properties: { message: base64, mac: base64 } },
        response: { 200: verifyResponse },
      },
    },
    async (req) =>
      crypto.verifyMac(callContext(req), req.params.name, decodeBase64('message', req.body.message), decodeBase64('mac', req.body.mac)),
  );

  app.get<{ Params: Params; Querystring: { version?: number } }>(
    '/v1/keys/:name/public-key',
    {
      schema: {
        tags: ['crypto'],
        summary: 'The public key of a version as PEM (SPKI) and JWK',
        params: keyParams,
        querystring: { type: 'object', additionalProperties: false, properties: { version: keyVersion } },
      },
    },
    async (req) => crypto.publicKey(callContext(req), req.params.name, req.query.version ?? null),
  );
}

function signInput(body: { message?: string; digest?: string }): { message: Uint8Array } | { digest: Uint8Array } {
  return body.message !== undefined
    ? { message: decodeBase64('message', body.message) }
    : { digest: decodeBase64('digest', body.digest as string) };
}
