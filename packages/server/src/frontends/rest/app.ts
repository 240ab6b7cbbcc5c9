import { randomUUID } from 'node:crypto';
import type { ServerOptions as HttpsOptions } from 'node:https';
import swagger from '@fastify/swagger';
import type { ErrorBody } from '@keyward/wire';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchemaCompiler, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Keyward } from '../../service/keyward.js';
import { alertRoutes } from './alert-routes.js';
import { approvalRoutes } from './approval-routes.js';
import { attestationRoutes } from './attestation-routes.js';
import { auditRoutes } from './audit-routes.js';
import { byokRoutes } from './byok-routes.js';
import { cryptoRoutes } from './crypto-routes.js';
import { toWireError } from './error-table.js';
import { eventRoutes } from './event-routes.js';
import { incidentRoutes } from './incident-routes.js';
import { inventoryRoutes } from './inventory-routes.js';
import { keyRoutes } from './key-routes.js';
import { countUnrouted, metricsRoutes } from './metrics-routes.js';
import { principalRoutes } from './principal-routes.js';
import { reportRoutes } from './report-routes.js';
import { logRequest } from './request-log.js';
import { compileSerializer } from './serialization.js';
import { sysRoutes } from './sys-routes.js';
import { totpRoutes } from './totp-routes.js';
import { compileValidator } from './validation.js';

export interface RestOptions {
  logger: Logger;
  version: string;
  /** Largest request body of a single operation (batches get 16 MiB). */
  bodyLimit?: number;
  https?: HttpsOptions;
}

function refusal(request: FastifyRequest) {
  // routeOptions is missing on requests Fastify refuses before routing (frameworkErrors).
  return { requestId: request.id, source: request.ip, method: request.method, route: request.routeOptions?.url ?? 'unknown' };
}

/**
 * The REST front end: translates HTTP into service calls and back. It never
 * touches the store, the seal or key material.
 */
export async function buildRestApp(keyward: Keyward, options: RestOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    // Fastify's own two lines per request are replaced by one of ours (onResponse below).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // No child logger per request (pino builds one per call): every line the front end logs names its requestId itself.
    childLoggerFactory: (logger) => logger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    // Key names and principal ids run to 128 characters (API.md); longer ones must reach validation and get a 400.
    routerOptions: { maxParamLength: 1024 },
    // Bad percent-encoding and over-long path parameters: the standard error body and X-Request-Id, not Fastify's own.
    frameworkErrors: (error, request, reply) => {
      const wire = toWireError(error);
      countUnrouted(keyward, request.method, wire.status, wire.code);
      const body: ErrorBody = { error: { code: wire.code, message: wire.message, requestId: request.id } };
      const send = () => void (reply as unknown as FastifyReply).header('x-request-id', request.id).code(wire.status).send(body);
      // Audited like every other refusal; answered even if the record cannot be written (it is a client error).
      keyward.refused(refusal(request as unknown as FastifyRequest), error, wire.code).then(send, send);
    },
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  app.setValidatorCompiler((({ schema, httpPart }) =>
    compileValidator(schema as Record<string, unknown>, httpPart)) as FastifySchemaCompiler<unknown>);
  // Routes with a response schema (responses.ts) answer through a compiled serializer that writes only its properties.
  app.setSerializerCompiler(compileSerializer);
  // JSON only (API.md): without this, Fastify's built-in text/plain parser lets a text body reach validation.
  app.removeContentTypeParser('text/plain');
  // A JSON body is an object; `null` is what an empty optional body parses to.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('malformed JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }), undefined);
    }
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    // The URL carries no secrets by design (API.md); headers are not logged.
    logRequest(request.log, reply.statusCode, Math.round(reply.elapsedTime * 100) / 100, () => ({
      requestId: request.id,
      method: request.method,
      route: request.routeOptions.url ?? null,
      source: request.ip,
    }));
    done();
  });

  app.setErrorHandler(async (error, request, reply) => {
    const wire = toWireError(error);
    if (wire.status >= 500 && wire.code === 'internal') {
      // Only the error's class and code: messages of driver errors can quote parameters.
      request.log.error(
        { requestId: request.id, err: { type: (error as Error).name, code: (error as { code?: unknown }).code } },
        'internal error',
      );
    }
    // A refusal whose record cannot be written is still answered: the audit failure itself fails the operation (503).
    await keyward.refused(refusal(request), error, wire.code).catch(() => {});
    const body: ErrorBody = { error: { code: wire.code, message: wire.message, requestId: request.id } };
    return reply.code(wire.status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) => {
    await keyward.refused(refusal(request), null, 'not_found').catch(() => {});
    const body: ErrorBody = {
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, requestId: request.id },
    };
    return reply.code(404).send(body);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Keyward', version: options.version, description: 'Keyward HTTP API (see docs/api.md)' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  // First of the routes: it hooks every route registered after it (request metrics).
  metricsRoutes(app, keyward);
  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  sysRoutes(app, keyward);
  auditRoutes(app, keyward);
  attestationRoutes(app, keyward);
  keyRoutes(app, keyward);
  byokRoutes(app, keyward);
  cryptoRoutes(app, keyward);
  principalRoutes(app, keyward);
  totpRoutes(app, keyward);
  reportRoutes(app, keyward);
  inventoryRoutes(app, keyward);
  eventRoutes(app, keyward);
  alertRoutes(app, keyward);
  incidentRoutes(app, keyward);
  approvalRoutes(app, keyward);
  return app;
}
