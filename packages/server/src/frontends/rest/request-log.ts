import type { FastifyBaseLogger } from 'fastify';

/** pino's level numbers (a logger at level L writes the lines of levels at or above L). */
const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** A successful request slower than this is logged at `info` like a failed one. */
export const SLOW_REQUEST_MS = 1000;

/** The one log line of an answered request: where it went and how it ended, never its body or headers. */
export interface RequestLine {
  requestId: string;
  method: string;
  route: string | null;
  status: number;
  ms: number;
  source: string;
  /** Events sent on a stream (`/v1/events`). */
  events?: number;
}

/** What a request's line says besides its status and time: built only when the line is written. */
export type RequestDetails = Omit<RequestLine, 'status' | 'ms'>;

/**
 * Logs one answered request. The audit trail is the record of every
 * request (durable, chained, with its actor and outcome); the log is for
 * operators, so by default it carries what needs attention: answers of 500
 * and above at `warn`, refusals (4xx) and requests slower than
 * {@link SLOW_REQUEST_MS} at `info`, and every other request at `debug`
 * (`--log-level debug` logs them all).
 *
 * The level is decided from `status` and `ms` alone, so that at the default
 * level a successful request reads nothing else: `describe` (the route, the
 * source address: Fastify builds both on each read) runs only for a line
 * that is written.
 */
export function logRequest(log: FastifyBaseLogger, status: number, ms: number, describe: () => RequestDetails): void {
  const level = status >= 500 ? 'warn' : status >= 400 || ms >= SLOW_REQUEST_MS ? 'info' : 'debug';
  if ((LEVELS[level] as number) < (LEVELS[log.level] ?? 0)) return;
  const { requestId, method, route, source, events } = describe();
  const line: RequestLine = { requestId, method, route, status, ms, source };
  if (events !== undefined) line.events = events;
  log[level](line, 'request');
}
