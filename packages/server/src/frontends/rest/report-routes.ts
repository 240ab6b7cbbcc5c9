import { createHash } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { keyParams, rfc3339 } from './schemas.js';

type Params = { name: string };

/** How long a client or cache may reuse a JWK Set; a prepublished version must be published at least this long before it signs. */
const JWKS_MAX_AGE_SECONDS = 60;

const RFC3339_PARTS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * A strict RFC 3339 time (§5.6): the pattern, and a real calendar date and
 * clock time (Date.parse would roll 2026-02-30 over to March). Leap seconds
 * are refused, as JavaScript times cannot hold them.
 */
export function parseTime(field: string, text: string): Date {
  const m = RFC3339_PARTS.exec(text);
  const invalid = () => new KeywardError('invalid_request', `${field}: not a valid RFC 3339 time`);
  if (m === null) throw invalid();
  const parts = m.slice(1).map((part) => Number(part ?? 0));
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = parts as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const ok =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59;
  const time = new Date(text);
  if (!ok || Number.isNaN(time.getTime())) throw invalid();
  return time;
}

/** A strong entity tag of a JSON body: equal bodies, equal tags. */
function entityTag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

/** Whether an If-None-Match header (RFC 9110 §13.1.2) names `etag` (weak comparison) or is `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** Reports about one key: its JWK Set and its usage by version, principal and operation. */
export function reportRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { reports } = keyward;

  app.get<{ Params: Params }>(
    '/v1/keys/:name/jwks',
    {
      schema: {
        tags: ['keys'],
        summary: 'JWK Set (RFC 7517) of the versions that may still verify, and a prepublished pre_active one; kid is <key id>:<version>',
        params: keyParams,
        querystring: { type: 'object', additionalProperties: false, properties: {} },
      },
    },
    async (req, reply) => {
      const set = await reports.jwks(callContext(req), req.params.name);
      const body = JSON.stringify(set);
      const etag = entityTag(body);
      void reply.header('cache-control', `max-age=${JWKS_MAX_AGE_SECONDS}`).header('etag', etag);
      const ifNoneMatch = req.headers['if-none-match'];
      if (matches(Array.isArray(ifNoneMatch) ? ifNoneMatch.join(',') : ifNoneMatch, etag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.get<{ Params: Params; Querystring: { since?: string } }>(
    '/v1/keys/:name/usage',
    {
      schema: {
        tags: ['keys'],
        summary: 'Successful cryptographic operations per version, by principal and operation, counted from the audit records',
        params: keyParams,
        querystring: { type: 'object', additionalProperties: false, properties: { since: rfc3339 } },
      },
    },
    async (req) => {
      const since = req.query.since === undefined ? null : parseTime('querystring.since', req.query.since);
      return reports.usage(callContext(req), req.params.name, since);
    },
  );
}
