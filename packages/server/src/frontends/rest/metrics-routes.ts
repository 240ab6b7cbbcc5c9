import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { NO_ERROR, UNMATCHED_ROUTE } from '../../metrics/http-metrics.js';
import type { Keyward } from '../../service/keyward.js';
import { toWireError } from './error-table.js';

/** The wire error code of each failed request, noted when the error is handled and read when the answer is done. */
const errorCodes = new WeakMap<FastifyRequest, string>();

/** Counts a request Fastify refused before routing (bad percent-encoding, an over-long path parameter): no hook sees it. */
export function countUnrouted(keyward: Keyward, method: string, status: number, code: string): void {
  keyward.metrics.http.observe(UNMATCHED_ROUTE, method, status, code, null);
}

/**
 * `GET /metrics` (Prometheus text format, no credential, served while
 * sealed; API.md) and the hooks that count every HTTP request.
 *
 * Registered first, before any route: each route gets its own onResponse
 * hook that already knows the route pattern (reading `request.routeOptions`
 * would allocate an object per request on the encrypt path). Labels come
 * from the route table and the error table only, never from the URL, so
 * no key name reaches the metrics.
 *
 * The endpoint is not an operation: it goes through neither the gate nor the
 * audit log (it is scraped every few seconds and reveals counts, never keys,
 * principals, tokens or data). Expose it to the monitoring network only.
 */
export function metricsRoutes(app: FastifyInstance, keyward: Keyward): void {
  const metrics = keyward.metrics;
  const record = (route: string, request: FastifyRequest, reply: FastifyReply): void => {
    const status = reply.statusCode;
    const code = status < 400 ? NO_ERROR : (errorCodes.get(request) ?? (status === 404 ? 'not_found' : 'unknown'));
    metrics.http.observe(route, request.method, status, code, reply.elapsedTime / 1000);
  };

  app.addHook('onRoute', (route) => {
    const pattern = route.url;
    const onResponse = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      record(pattern, request, reply);
      done();
    };
    // A new array: the HEAD twin of a GET route is cloned from the options before this hook ran.
    route.onResponse = [...[route.onResponse ?? []].flat(), onResponse];
  });
  // Requests no route matched (probes, typos): one series for all of them.
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) record(UNMATCHED_ROUTE, request, reply);
    done();
  });
  app.addHook('onError', (request, _reply, error, done) => {
    errorCodes.set(request, toWireError(error).code);
    done();
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['sys'],
        summary: 'Prometheus metrics (text format 0.0.4); no credential needed, served while sealed (see docs/metrics.md)',
        security: [],
      },
    },
    async (_request, reply) => {
      const text = await metrics.text();
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
