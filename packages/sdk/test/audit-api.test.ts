import { describe, expect, it } from 'vitest';
import { KeywardApiError, KeywardClient, KeywardConnectionError } from '../src/index.js';
import { fakeFetch } from './support/fake-fetch.js';

const TOKEN = 'kw_secret_token_value';
const page = (events: unknown[], nextCursor: string | null) => ({ body: { events, nextCursor } });

function client(respond: Parameters<typeof fakeFetch>[0]) {
  const fake = fakeFetch(respond);
  return { fake, client: new KeywardClient({ address: 'http://127.0.0.1:8200', token: TOKEN, fetch: fake.fetch }) };
}

/** A fetch answering a streamed body made of `chunks` (then `end`: close, or break off with an error). */
function streamingFetch(chunks: string[], end: 'close' | 'error' = 'close') {
  const seen: { url?: URL; headers?: Headers; pulled: number; cancelled: boolean } = { pulled: 0, cancelled: false };
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen.url = new URL(input instanceof Request ? input.url : input);
    seen.headers = new Headers(init?.headers);
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const chunk = chunks[seen.pulled++];
          if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
          else if (end === 'close') controller.close();
          else controller.error(new TypeError('terminated'));
        },
        cancel() {
          seen.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

describe('KeywardClient audit', () => {
  it('auditEvents puts the filters in the query string, a Date as RFC 3339, leaving unset ones out', async () => {
    const { fake, client: c } = client([page([], null), page([], null)]);
    await c.auditEvents({
      key: 'payments-db',
      version: 2,
      principal: 'svc-billing',
      outcome: 'denied',
      from: new Date('2026-06-01T00:00:00Z'),
    });
    await c.auditEvents();
    expect(fake.requests.map((r) => r.url.href)).toEqual([
      'http://127.0.0.1:8200/v1/audit/events?key=payments-db&version=2&principal=svc-billing&outcome=denied&from=2026-06-01T00%3A00%3A00.000Z',
      'http://127.0.0.1:8200/v1/audit/events',
    ]);
  });

  it('iterateAuditEvents follows nextCursor over every page with the same filters', async () => {
    const { fake, client: c } = client([page([{ seq: 1 }, { seq: 2 }], '2'), page([{ seq: 3 }], null)]);
    const seqs: number[] = [];
    for await (const record of c.iterateAuditEvents({ action: 'crypto.encrypt', limit: 2 })) seqs.push(record.seq);
    expect(seqs).toEqual([1, 2, 3]);
    expect(fake.requests.map((r) => Object.fromEntries(r.url.searchParams))).toEqual([
      { action: 'crypto.encrypt', limit: '2' },
      { action: 'crypto.encrypt', limit: '2', cursor: '2' },
    ]);
  });

  it('auditHash sends exactly one of value and context, and refuses neither or both before sending', async () => {
    const { fake, client: c } = client(() => ({ body: { hmac: 'hmac-sha256:00' } }));
    expect(await c.auditHash({ value: 'v' })).toEqual({ hmac: 'hmac-sha256:00' });
    await c.auditHash({ context: { tenant: 'acme' } });
    expect(fake.requests.map((r) => [r.method, r.url.pathname, r.body])).toEqual([
      ['POST', '/v1/audit/hash', { value: 'v' }],
      ['POST', '/v1/audit/hash', { context: { tenant: 'acme' } }],
    ]);
    expect(() => c.auditHash({} as { value: string })).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => c.auditHash({ value: 'v', context: {} } as unknown as { value: string })).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
    expect(() => c.auditEvents({ to: new Date('nope') })).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(fake.requests).toHaveLength(2);
  });

  it('verifyAudit, auditPublicKey and auditCheckpoint use their endpoints', async () => {
    const { fake, client: c } = client(() => ({ body: {} }));
    await c.verifyAudit();
    await c.auditPublicKey();
    await c.auditCheckpoint();
    expect(fake.requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
      'GET /v1/audit/verify',
      'GET /v1/audit/public-key',
      'POST /v1/audit/checkpoints',
    ]);
  });

  it('exportAudit streams text chunks as they arrive, with the token in a header', async () => {
    const { fetch, seen } = streamingFetch(['{"type":"export"}\n{"ty', 'pe":"record"}\n']);
    const c = new KeywardClient({ address: 'http://127.0.0.1:8200', token: TOKEN, fetch });
    const stream = await c.exportAudit();
    expect(seen.url?.href).toBe('http://127.0.0.1:8200/v1/audit/export');
    expect(seen.headers?.get('accept')).toBe('application/x-ndjson');
    expect(seen.headers?.get('authorization')).toBe(`Bearer ${TOKEN}`);
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.join('')).toBe('{"type":"export"}\n{"type":"record"}\n');
  });

  it('exportAudit reads no further than asked, and leaving the loop cancels the download', async () => {
    const { fetch, seen } = streamingFetch(Array.from({ length: 100 }, (_, i) => `{"n":${i}}\n`));
    const stream = await new KeywardClient({ address: 'http://h:1', fetch }).exportAudit();
    for await (const chunk of stream) {
      expect(chunk).toBe('{"n":0}\n');
      break;
    }
    expect(seen.pulled).toBeLessThan(5);
    expect(seen.cancelled).toBe(true);
  });

  it('exportAudit: a refusal rejects before any stream, a broken connection errors the stream as a connection error', async () => {
    const refused = fakeFetch([{ status: 403, body: { error: { code: 'forbidden', message: 'not an auditor', requestId: 'r1' } } }]);
    await expect(new KeywardClient({ address: 'http://h:1', fetch: refused.fetch }).exportAudit()).rejects.toBeInstanceOf(KeywardApiError);

    const { fetch } = streamingFetch(['{"type":"export"}\n'], 'error');
    const stream = await new KeywardClient({ address: 'http://h:1', fetch }).exportAudit();
    const read = async () => {
      for await (const _ of stream);
    };
    await expect(read()).rejects.toBeInstanceOf(KeywardConnectionError);
    await expect(read()).rejects.toThrow(/the audit export from http:\/\/h:1 broke off/);
  });
});
