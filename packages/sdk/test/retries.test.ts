import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeywardApiError, KeywardClient, KeywardConnectionError } from '../src/index.js';
import { parseRetryAfter, retryPolicy } from '../src/retry-policy.js';

/**
 * Retries against a real HTTP server (node:http on loopback) that answers
 * from a script and counts what it received, so "sent exactly once" is
 * counted where it matters: on the server.
 */

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const received: Array<{ method: string; path: string }> = [];
let script: Answer[] = [];
let server: Server;
let address: string;

function errorBody(status: number): unknown {
  const code = status === 429 ? 'rate_limited' : status === 503 ? 'sealed' : status === 404 ? 'not_found' : 'invalid_request';
  return { error: { code, message: `scripted ${status}`, requestId: `req-${received.length}` } };
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    received.push({ method: req.method ?? '', path: req.url ?? '' });
    const next = script.shift() ?? { status: 500 };
    const body = next.body ?? (next.status >= 400 ? errorBody(next.status) : {});
    res.writeHead(next.status, { 'content-type': 'application/json', 'x-request-id': `req-${received.length}`, ...next.headers });
    res.end(next.status === 204 ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterEach(() => {
  received.length = 0;
  script = [];
});

/** A client whose waits are recorded instead of slept, with a fixed jitter draw. */
function client(retries: Record<string, number> = {}, random = 0.5): { client: KeywardClient; delays: number[] } {
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  return {
    client: new KeywardClient({ address, token: 'kw_retry_test_token', retries: { ...retries, sleep, random: () => random } }),
    delays,
  };
}

const KEY = {
  name: 'k',
  versions: [],
};

describe('retries', () => {
  it('retries a GET answered 503 and answers the success that follows', async () => {
    script = [{ status: 503 }, { status: 503 }, { status: 200, body: KEY }];
    const { client: c, delays } = client({ maxRetries: 3, baseDelayMs: 100, maxDelayMs: 10_000 });
    const key = await c.getKey('k');
    expect(key.name).toBe('k');
    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/keys/k', 'GET /v1/keys/k', 'GET /v1/keys/k']);
    // Full jitter with random() = 0.5: half of base·2^n.
    expect(delays).toEqual([50, 100]);
  });

  it('honours Retry-After in seconds and as an HTTP date', async () => {
    const inTwoSeconds = new Date(Date.now() + 2_000).toUTCString();
    script = [
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 503, headers: { 'retry-after': inTwoSeconds } },
      { status: 200, body: KEY },
    ];
    const { client: c, delays } = client({ maxRetries: 2 });
    await c.getKey('k');
    expect(received).toHaveLength(3);
    expect(delays[0]).toBe(3_000);
    // An HTTP date has one-second resolution: the wait is at most two seconds and not gone yet.
    expect(delays[1]).toBeGreaterThan(0);
    expect(delays[1]).toBeLessThanOrEqual(2_000);
  });

  it('does not retry when Retry-After asks for longer than the cap, and the error carries the wait', async () => {
    script = [{ status: 503, headers: { 'retry-after': '120' } }];
    const { client: c, delays } = client({ maxRetries: 2, maxRetryAfterMs: 60_000 });
    const error = await c.getKey('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardApiError);
    expect(error).toMatchObject({ code: 'sealed', status: 503, retryAfterMs: 120_000, requestId: 'req-1' });
    expect(received).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('bounds the attempts: maxRetries + 1 requests, then the last error', async () => {
    script = [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: KEY }];
    const { client: c, delays } = client({ maxRetries: 2, baseDelayMs: 10, maxDelayMs: 15 });
    const error = await c.getKey('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'sealed', status: 503 });
    expect(received).toHaveLength(3);
    // Capped at maxDelayMs before the jitter.
    expect(delays).toEqual([5, 7]);
  });

  it('retries: 0 disables retrying', async () => {
    script = [{ status: 503 }, { status: 200, body: KEY }];
    const c = new KeywardClient({ address, token: 'kw_retry_test_token', retries: 0 });
    await expect(c.getKey('k')).rejects.toMatchObject({ code: 'sealed' });
    expect(received).toHaveLength(1);
  });

  it.each([
    ['encrypt', (c: KeywardClient) => c.encrypt('k', new Uint8Array([1]))],
    ['sign', (c: KeywardClient) => c.sign('k', { message: new Uint8Array([1]) })],
    ['dataKey', (c: KeywardClient) => c.dataKey('k')],
    ['rotateKey', (c: KeywardClient) => c.rotateKey('k')],
    ['createKey', (c: KeywardClient) => c.createKey({ name: 'k', algorithm: 'aes-256-gcm', owner: 'team-x' })],
    ['patchKey', (c: KeywardClient) => c.patchKey('k', { description: 'x' })],
    ['revokeToken', (c: KeywardClient) => c.revokeToken('tok')],
    ['mac', (c: KeywardClient) => c.mac('k', new Uint8Array([1]))],
    ['rewrap', (c: KeywardClient) => c.rewrap('k', 'ct')],
    ['encryptBatch', (c: KeywardClient) => c.encryptBatch('k', [{ plaintext: new Uint8Array([1]) }])],
  ])('a non-idempotent %s answered 503 then 429 is sent exactly once', async (_name, call) => {
    for (const status of [503, 429]) {
      received.length = 0;
      script = [
        { status, headers: { 'retry-after': '0' } },
        { status: 200, body: {} },
      ];
      const { client: c, delays } = client({ maxRetries: 5 });
      await expect(call(c)).rejects.toMatchObject({ status });
      expect(received).toHaveLength(1);
      expect(delays).toEqual([]);
    }
  });

  it.each([
    ['decrypt', (c: KeywardClient) => c.decrypt('k', 'ct'), { plaintext: 'AQ==', keyVersion: 1 }],
    [
      'verify',
      (c: KeywardClient) => c.verify('k', { message: new Uint8Array([1]), signature: new Uint8Array([2]) }),
      { valid: true, keyVersion: 1 },
    ],
    ['verifyMac', (c: KeywardClient) => c.verifyMac('k', new Uint8Array([1]), new Uint8Array([2])), { valid: true }],
    ['decryptBatch', (c: KeywardClient) => c.decryptBatch('k', [{ ciphertext: 'ct' }]), { items: [] }],
  ])('the read-only POST %s is retried after 429', async (_name, call, body) => {
    script = [{ status: 429 }, { status: 200, body }];
    const { client: c } = client({ maxRetries: 1 });
    await call(c);
    expect(received).toHaveLength(2);
    expect(received.every((r) => r.method === 'POST')).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 500, 502])('never retries a %i', async (status) => {
    script = [{ status }, { status: 200, body: KEY }];
    const { client: c, delays } = client({ maxRetries: 3 });
    await expect(c.getKey('k')).rejects.toMatchObject({ status });
    expect(received).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('health answers a sealed 503 at once (an answer, not an error to retry)', async () => {
    script = [{ status: 503, body: { initialized: true, sealed: true, version: '0.1.0' } }];
    const { client: c } = client({ maxRetries: 3 });
    await expect(c.health()).resolves.toMatchObject({ sealed: true });
    expect(received).toHaveLength(1);
  });

  it('a timed-out POST is never retried, even if idempotent', async () => {
    const slow = createServer((req, res) => {
      received.push({ method: req.method ?? '', path: req.url ?? '' });
      req.resume();
      // Never answers: the client's timeout ends the attempt.
      res.on('close', () => {});
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const delays: number[] = [];
      const c = new KeywardClient({
        address: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
        timeoutMs: 200,
        retries: { maxRetries: 3, sleep: async (ms) => void delays.push(ms) },
      });
      const error = await c.decrypt('k', 'ct').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeywardConnectionError);
      expect((error as KeywardConnectionError).timedOut).toBe(true);
      expect(received).toHaveLength(1);
      expect(delays).toEqual([]);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('a refused connection (nothing sent) is retried for a GET, not for an encrypt', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const delays: number[] = [];
    const c = new KeywardClient({
      address: `http://127.0.0.1:${port}`,
      retries: { maxRetries: 2, sleep: async (ms) => void delays.push(ms) },
    });
    await expect(c.getKey('k')).rejects.toBeInstanceOf(KeywardConnectionError);
    expect(delays).toHaveLength(2);
    delays.length = 0;
    await expect(c.encrypt('k', new Uint8Array([1]))).rejects.toBeInstanceOf(KeywardConnectionError);
    expect(delays).toEqual([]);
  });

  it('the token never appears in a retried error', async () => {
    script = [{ status: 503 }, { status: 503 }, { status: 503 }];
    const { client: c } = client({ maxRetries: 2 });
    const error = (await c.getKey('k').catch((e: unknown) => e)) as Error;
    expect(`${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`).not.toContain('kw_retry_test_token');
  });
});

describe('retry options', () => {
  it.each([
    [{ maxRetries: -1 }, 'retries.maxRetries'],
    [{ maxRetries: 1.5 }, 'retries.maxRetries'],
    [{ maxRetries: 11 }, 'retries.maxRetries'],
    [{ baseDelayMs: -5 }, 'retries.baseDelayMs'],
    [{ maxDelayMs: Number.NaN }, 'retries.maxDelayMs'],
    [{ maxRetryAfterMs: -1 }, 'retries.maxRetryAfterMs'],
    [{ baseDelayMs: 500, maxDelayMs: 100 }, 'retries.maxDelayMs'],
  ])('refuses %o naming the field', (options, field) => {
    expect(() => retryPolicy(options)).toThrow(field);
    expect(() => new KeywardClient({ address: 'http://127.0.0.1:1', retries: options })).toThrow(field);
  });

  it('parses Retry-After seconds and dates, and ignores junk', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-3', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
