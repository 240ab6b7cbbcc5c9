import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * GET /metrics on a real server: scraped without a credential after a known
 * sequence of requests, scheduler passes and webhook attempts, every counter
 * must hold exactly what happened; the text must parse strictly and never
 * contain a key name, token, plaintext or URL.
 */

type Labels = Record<string, string>;

interface Scrape {
  text: string;
  /** Sample value by `name{k="v",…}` with labels sorted by name; undefined when the series is absent. */
  value(name: string, labels?: Labels): number | undefined;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)$`);
const HELP = new RegExp(`^# HELP (${NAME}) .+$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

const key = (name: string, labels: Labels = {}): string =>
  `${name}{${Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** A strict reader of the Prometheus text format 0.0.4: any line it does not understand fails the test. */
function parse(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const lines = text.split('\n');
  expect(lines.at(-1), 'ends with a newline').toBe('');
  for (const line of lines.slice(0, -1)) {
    if (line === '') continue; // a blank line between metric families is allowed
    const help = HELP.exec(line);
    if (help) {
      expect(helped.has(help[1] as string), `one HELP per metric: ${line}`).toBe(false);
      helped.add(help[1] as string);
      continue;
    }
    const type = TYPE.exec(line);
    if (type) {
      expect(types.has(type[1] as string), `one TYPE per metric: ${line}`).toBe(false);
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    const sample = SAMPLE.exec(line);
    expect(sample, `not a valid exposition line: ${JSON.stringify(line)}`).not.toBeNull();
    const [, name, labelText, value] = sample as RegExpExecArray;
    const family = (name as string).replace(/_(bucket|sum|count)$/, '');
    const declared = types.get(name as string) ?? (types.get(family) === 'histogram' ? 'histogram' : undefined);
    expect(declared, `sample of an undeclared metric: ${line}`).toBeDefined();
    const labels: Labels = {};
    for (const m of (labelText ?? '').matchAll(new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, 'g'))) {
      labels[m[1] as string] = JSON.parse(m[2] as string) as string;
    }
    const id = key(name as string, labels);
    expect(samples.has(id), `duplicate series: ${line}`).toBe(false);
    samples.set(id, Number(value));
  }
  return { text, value: (name, labels) => samples.get(key(name, labels)) };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const DAY = 86_400_000;
const KEY = 'payments-metrics-secret-name';
const PLAINTEXTS = ['plaintext-one-must-not-leak', 'plaintext-two-must-not-leak', 'plaintext-three-must-not-leak'];
const SECRET = 'whsec-metrics-0123456789abcdef';

describe.each(STORE_KINDS)('GET /metrics (%s)', (store) => {
  let h: Harness;
  let hookUrl: string;

  beforeAll(async () => {
    h = await Harness.start({ store, webhooks: { timeoutMs: 1_000, maxAttempts: 2, baseDelayMs: 10_000 } });
    hookUrl = `http://127.0.0.1:${await closedPort()}/keyward-hook`;
  });
  afterAll(async () => h.close());

  async function scrape(): Promise<Scrape> {
    const r = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    return parse(r.body);
  }

  const http = (route: string, method: string, status: string, code: string) => ({ route, method, status, code });
  const op = (operation: string, outcome: string, keyClass = 'critical', algorithm = 'aes-256-gcm') => ({
    operation,
    class: keyClass,
    algorithm,
    outcome,
  });

  it('answers without a credential, in the Prometheus text format, before anything happened', async () => {
    const m = await scrape();
    expect(m.value('keyward_sealed')).toBe(0);
    expect(m.value('keyward_initialized')).toBe(1);
    expect(m.value('keyward_info', { version: '0.0.0-test' })).toBe(1);
    for (const trigger of ['manual', 'time', 'use', 'event']) expect(m.value('keyward_key_rotations_total', { trigger })).toBe(0);
    expect(m.value('keyward_scheduler_runs_total', { outcome: 'leader' })).toBe(0);
    expect(m.value('keyward_webhook_delivery_attempts_total', { outcome: 'network_error' })).toBe(0);
    expect(m.value('keyward_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // No open-alerts source yet: the gauge has no series.
    expect(m.text).not.toMatch(/^keyward_alerts_open\{/m);
  });

  it('counts requests, operations, rotations, scheduler passes and webhook attempts exactly', async () => {
    const hook = await h.call('POST', '/v1/webhooks', { url: hookUrl, events: ['key.rotated'], secret: SECRET });
    expect(hook.status).toBe(201);
    await h.createKey(KEY, 'aes-256-gcm', { class: 'critical', rotationPeriod: '30d' });
    const ciphertexts: string[] = [];
    for (const plaintext of PLAINTEXTS) {
      const r = await h.call('POST', `/v1/keys/${KEY}/encrypt`, { plaintext: b64(plaintext) });
      expect(r.status).toBe(200);
      ciphertexts.push(r.body.ciphertext);
    }
    const bad = await h.call('POST', `/v1/keys/${KEY}/encrypt`, { plaintext: 'not base64!' });
    expect(bad.status).toBe(400);
    const tampered = `${(ciphertexts[0] as string).slice(0, -4)}AAAA`;
    expect((await h.call('POST', `/v1/keys/${KEY}/decrypt`, { ciphertext: tampered })).body.error.code).toBe('invalid_ciphertext');
    expect((await h.call('POST', '/v1/keys/no-such-secret-key/encrypt', { plaintext: b64('x') })).status).toBe(404);
    expect((await h.call('GET', `/v1/nowhere/${KEY}`)).status).toBe(404);
    expect((await h.app.inject({ method: 'GET', url: `/v1/keys/${KEY}%E0%A4%A` })).statusCode).toBe(400); // refused before routing
    expect((await h.call('POST', `/v1/keys/${KEY}/rotate`, { reason: 'drill' })).status).toBe(200);

    h.clock.advance(31 * DAY);
    const run = await h.keyward.scheduler.runOnce();
    expect(run.steps).toEqual({ 'key.rotate': 1 });
    // Two rotated events wait for the hook; the first fails (nothing listens) and stops the run.
    expect(await h.keyward.dispatcher.runOnce()).toMatchObject({ leader: true, delivered: 0, failed: 1 });
    h.clock.advance(DAY);
    expect(await h.keyward.dispatcher.runOnce()).toMatchObject({ failed: 1 }); // second and last attempt: given up

    const m = await scrape();
    const encrypt = '/v1/keys/:name/encrypt';
    expect(m.value('keyward_http_requests_total', http(encrypt, 'POST', '2xx', 'none'))).toBe(3);
    expect(m.value('keyward_http_requests_total', http(encrypt, 'POST', '4xx', 'invalid_request'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http(encrypt, 'POST', '4xx', 'not_found'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('/v1/keys/:name/decrypt', 'POST', '4xx', 'invalid_ciphertext'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('/v1/keys/:name/rotate', 'POST', '2xx', 'none'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('unmatched', 'GET', '4xx', 'not_found'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('unmatched', 'GET', '4xx', 'invalid_request'))).toBe(1);
    expect(m.value('keyward_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status: '4xx' })).toBe(1);
    expect(m.value('keyward_http_requests_total', http('/v1/keys', 'POST', '2xx', 'none'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('/metrics', 'GET', '2xx', 'none'))).toBe(1);
    const latency = { route: encrypt, method: 'POST', status: '2xx' };
    expect(m.value('keyward_http_request_duration_seconds_count', latency)).toBe(3);
    expect(m.value('keyward_http_request_duration_seconds_bucket', { ...latency, le: '+Inf' })).toBe(3);
    expect(m.value('keyward_http_request_duration_seconds_bucket', { ...latency, le: '0.0005' })).toBeDefined();
    expect(m.value('keyward_http_request_duration_seconds_bucket', { ...latency, le: '5' })).toBe(3);

    // The 400 was refused by validation before any operation ran: it is not an operation.
    expect(m.value('keyward_crypto_operations_total', op('encrypt', 'success'))).toBe(3);
    expect(m.value('keyward_crypto_operations_total', op('decrypt', 'invalid_ciphertext'))).toBe(1);
    expect(m.value('keyward_crypto_operations_total', op('encrypt', 'not_found', 'unknown', 'unknown'))).toBe(1);
    expect(m.text.match(/^keyward_crypto_operations_total\{/gm)).toHaveLength(3);

    expect(m.value('keyward_key_rotations_total', { trigger: 'manual' })).toBe(1);
    expect(m.value('keyward_key_rotations_total', { trigger: 'time' })).toBe(1);
    expect(m.value('keyward_key_rotations_total', { trigger: 'use' })).toBe(0);

    expect(m.value('keyward_scheduler_runs_total', { outcome: 'leader' })).toBe(1);
    expect(m.value('keyward_scheduler_runs_total', { outcome: 'error' })).toBe(0);
    expect(m.value('keyward_scheduler_steps_total', { action: 'key.rotate' })).toBe(1);
    expect(m.value('keyward_scheduler_steps_total', { action: 'key.destroy' })).toBe(0);
    expect(m.value('keyward_scheduler_step_failures_total')).toBe(0);
    expect(m.value('keyward_scheduler_run_duration_seconds_count')).toBe(1);
    expect(m.value('keyward_scheduler_last_success_timestamp_seconds')).toBeGreaterThan(1_700_000_000);

    expect(m.value('keyward_webhook_delivery_attempts_total', { outcome: 'network_error' })).toBe(2);
    expect(m.value('keyward_webhook_delivery_attempts_total', { outcome: 'delivered' })).toBe(0);
    expect(m.value('keyward_webhook_delivery_duration_seconds_count')).toBe(2);
    expect(m.value('keyward_webhook_events_abandoned_total')).toBe(1);
    expect(m.value('keyward_webhook_dispatch_errors_total')).toBe(0);

    // Every record of a request that changed nothing went through a group commit, each measured.
    const commits = m.value('keyward_audit_writes_total', { outcome: 'committed' }) as number;
    expect(commits).toBeGreaterThan(0);
    expect(m.value('keyward_audit_writes_total', { outcome: 'failed' })).toBe(0);
    expect(m.value('keyward_audit_write_duration_seconds_count')).toBe(commits);
    expect(m.value('keyward_audit_records_total', { outcome: 'committed' })).toBeGreaterThanOrEqual(7);
    expect(m.value('keyward_audit_backlog')).toBe(0);

    for (const secret of [KEY, 'no-such-secret-key', hookUrl, SECRET, h.adminToken, ...PLAINTEXTS, ...PLAINTEXTS.map(b64), ...h.secrets]) {
      expect(m.text, 'a secret or name in the scrape').not.toContain(secret);
    }
    expect(m.text).not.toContain(ciphertexts[0] as string);
  });

  it('counts use-limit and compromise rotations by trigger, and signatures that do not verify', async () => {
    await h.createKey('metrics-use-limited', 'aes-256-gcm', { class: 'high', maxUsesPerVersion: 2 });
    for (let i = 0; i < 3; i++)
      expect((await h.call('POST', '/v1/keys/metrics-use-limited/encrypt', { plaintext: b64('u') })).status).toBe(200);
    const compromise = await h.call('POST', '/v1/keys/metrics-use-limited/versions/2/compromise', { reason: 'metrics drill' });
    expect(compromise.status, JSON.stringify(compromise.body)).toBe(200);
    await h.createKey('metrics-mac', 'hmac-sha256', { class: 'low' });
    const mac = await h.call('POST', '/v1/keys/metrics-mac/mac', { message: b64('m') });
    expect((await h.call('POST', '/v1/keys/metrics-mac/verify-mac', { message: b64('m'), mac: mac.body.mac })).body.valid).toBe(true);
    expect((await h.call('POST', '/v1/keys/metrics-mac/verify-mac', { message: b64('other'), mac: mac.body.mac })).body.valid).toBe(false);

    const m = await scrape();
    expect(m.value('keyward_key_rotations_total', { trigger: 'use' })).toBe(1);
    expect(m.value('keyward_key_rotations_total', { trigger: 'event' })).toBe(1);
    expect(m.value('keyward_key_rotations_total', { trigger: 'manual' })).toBe(1);
    expect(m.value('keyward_crypto_operations_total', op('encrypt', 'success', 'high'))).toBe(3);
    expect(m.value('keyward_crypto_operations_total', op('mac', 'success', 'low', 'hmac-sha256'))).toBe(1);
    expect(m.value('keyward_crypto_operations_total', op('verify-mac', 'success', 'low', 'hmac-sha256'))).toBe(1);
    expect(m.value('keyward_crypto_operations_total', op('verify-mac', 'invalid', 'low', 'hmac-sha256'))).toBe(1);
  });

  it('reports open alerts from the source it is given, and raised alerts', async () => {
    let fail = false;
    h.keyward.metrics.setOpenAlertsSource(async () => {
      if (fail) throw new Error('alerts store unavailable');
      return [
        { type: 'rotation_overdue', count: 2 },
        { type: 'orphaned_key', count: 0 },
      ];
    });
    h.keyward.metrics.alertRaised('rotation_overdue');
    h.keyward.metrics.alertRaised('rotation_overdue');
    let m = await scrape();
    expect(m.value('keyward_alerts_open', { type: 'rotation_overdue' })).toBe(2);
    expect(m.value('keyward_alerts_open', { type: 'orphaned_key' })).toBe(0);
    expect(m.value('keyward_alerts_raised_total', { type: 'rotation_overdue' })).toBe(2);
    fail = true;
    m = await scrape();
    expect(m.value('keyward_alerts_open', { type: 'rotation_overdue' })).toBeUndefined();
    expect(m.value('keyward_metrics_source_errors_total', { source: 'alerts' })).toBe(1);
    h.keyward.metrics.setOpenAlertsSource(null);
  });

  it('counts failed scheduler passes and webhook runs that fail outside an attempt', async () => {
    const failing = new Set<string>();
    const f = await Harness.start({
      store,
      wrapStore: (s) =>
        new Proxy(s, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver);
            if (typeof value !== 'function') return value;
            if (failing.has(String(prop))) return async () => Promise.reject(new Error('store unavailable'));
            return value.bind(target);
          },
        }),
    });
    try {
      expect((await f.call('POST', '/v1/webhooks', { url: hookUrl, events: ['key.created'], secret: SECRET })).status).toBe(201);
      await f.createKey('metrics-failing');
      failing.add('keysNeedingAttention');
      await expect(f.keyward.scheduler.runOnce()).rejects.toThrow('store unavailable');
      failing.add('listEvents');
      expect(await f.keyward.dispatcher.runOnce()).toMatchObject({ leader: true, failed: 1 });
      failing.clear();
      const r = await f.app.inject({ method: 'GET', url: '/metrics' });
      const m = parse(r.body);
      expect(m.value('keyward_scheduler_runs_total', { outcome: 'error' })).toBe(1);
      expect(m.value('keyward_scheduler_runs_total', { outcome: 'leader' })).toBe(0);
      expect(m.value('keyward_scheduler_run_duration_seconds_count')).toBe(1);
      expect(m.value('keyward_webhook_dispatch_errors_total')).toBe(1);
      expect(m.value('keyward_webhook_delivery_attempts_total', { outcome: 'network_error' })).toBe(0);
      // The other server's counters are its own (one registry per server).
      expect(m.value('keyward_http_requests_total', http('/v1/keys/:name/encrypt', 'POST', '2xx', 'none'))).toBeUndefined();
    } finally {
      await f.close();
    }
  });

  it('flips the sealed gauge on seal and still answers while sealed', async () => {
    expect((await scrape()).value('keyward_sealed')).toBe(0);
    expect((await h.call('POST', '/v1/sys/seal')).status).toBe(204);
    expect((await h.call('POST', `/v1/keys/${KEY}/encrypt`, { plaintext: b64('sealed') })).status).toBe(503);
    const m = await scrape();
    expect(m.value('keyward_sealed')).toBe(1);
    expect(m.value('keyward_initialized')).toBe(1);
    expect(m.value('keyward_crypto_operations_total', op('encrypt', 'sealed', 'unknown', 'unknown'))).toBe(1);
    expect(m.value('keyward_http_requests_total', http('/v1/keys/:name/encrypt', 'POST', '5xx', 'sealed'))).toBe(1);
  });
});
