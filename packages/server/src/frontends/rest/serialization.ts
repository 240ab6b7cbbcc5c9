import { isDeepStrictEqual } from 'node:util';
import fastJson from 'fast-json-stringify';

type Serializer = (data: unknown) => string;

interface SerializerRoute {
  schema: unknown;
  method: string;
  url: string;
  httpStatus?: string;
}

/**
 * Checked where the code is exercised — the test suite (NODE_ENV=test, which
 * vitest sets and the servers it starts inherit), development or
 * KEYWARD_SERIALIZER_CHECK=1 — and off otherwise, as the store's transaction
 * guard is: every answer is also written with JSON.stringify and the two must
 * parse to the same value, so a response schema that drops, renames or
 * coerces a property fails the test that produced the answer.
 */
const CHECK = process.env.NODE_ENV === 'test' || process.env.NODE_ENV === 'development' || process.env.KEYWARD_SERIALIZER_CHECK === '1';

/**
 * Fastify's serializer compiler: a route's response schema (responses.ts)
 * becomes a fast-json-stringify function that writes exactly the schema's
 * properties. Answers of statuses without a schema (errors, 202 pending
 * approvals) keep Fastify's JSON.stringify.
 */
export function compileSerializer({ schema, method, url, httpStatus }: SerializerRoute): Serializer {
  const serialize = fastJson(schema as Parameters<typeof fastJson>[0]) as Serializer;
  if (!CHECK) return serialize;
  return (data) => {
    const text = serialize(data);
    const expected: unknown = JSON.parse(JSON.stringify(data));
    const written: unknown = JSON.parse(text);
    if (!isDeepStrictEqual(written, expected)) {
      // Names the paths that differ, never the values (an answer may carry key material). The error
      // handler logs only an internal error's class and code, so the paths also go to stderr here.
      const message = `response schema of ${method} ${url} (${httpStatus ?? 'default'}) does not match the answer at ${differences(expected, written, '$').join(', ')}`;
      process.stderr.write(`keyward: ${message}\n`);
      throw Object.assign(new Error(message), { code: 'KW_RESPONSE_SCHEMA' });
    }
    return text;
  };
}

/** The paths at which `a` and `b` differ (both are JSON values). */
function differences(a: unknown, b: unknown, path: string): string[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return [path];
  const out: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    out.push(
      ...differences(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        Array.isArray(a) ? `${path}[${key}]` : `${path}.${key}`,
      ),
    );
  }
  return out;
}
