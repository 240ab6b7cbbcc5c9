import { Counter, Histogram, type Registry } from 'prom-client';
import { LabelCache } from './label-cache.js';

/** Latency buckets in seconds: from a cached encrypt (well under 1 ms) to a request stuck behind a slow store (5 s). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** The `route` label of requests no route matched (probing, typos): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The `code` label of answers that are not errors. */
export const NO_ERROR = 'none';

const STATUS_CLASSES: readonly string[] = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

interface Series {
  requests: Counter.Internal;
  duration: Histogram.Internal<string>;
}

/**
 * HTTP requests by route pattern, method, status class and error code, with
 * a latency histogram. Labels come only from the route table and the error
 * table, so no key name, principal or token can reach a label.
 */
export class HttpMetrics {
  readonly #series: LabelCache<Series>;

  constructor(registry: Registry) {
    const requests = new Counter({
      name: 'keyward_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method, status class and error code (none for success).',
      labelNames: ['route', 'method', 'status', 'code'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'keyward_http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to the end of its answer, by route pattern, method and status class.',
      labelNames: ['route', 'method', 'status'],
      buckets: [...LATENCY_BUCKETS],
      registers: [registry],
    });
    this.#series = new LabelCache((route, method, status, code) => ({
      requests: requests.labels(route, method, status, code),
      duration: duration.labels(route, method, status),
    }));
  }

  /**
   * Counts one answered request. `route` is the route pattern (e.g.
   * `/v1/keys/:name/encrypt`) or {@link UNMATCHED_ROUTE}, never the URL;
   * `code` is the wire error code or {@link NO_ERROR}; `seconds` is null
   * for a request refused before its timing started (malformed URL).
   */
  observe(route: string, method: string, status: number, code: string, seconds: number | null): void {
    const series = this.#series.get(route, method, STATUS_CLASSES[Math.floor(status / 100)] ?? 'other', code);
    series.requests.inc();
    if (seconds !== null) series.duration.observe(seconds);
  }
}
