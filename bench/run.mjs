#!/usr/bin/env node
// `npm run bench` — Keyward's benchmark (not a test). See docs/performance.md.
//
// Starts Keyward on each store (SQLite; PostgreSQL too when
// KEYWARD_BENCH_DATABASE_URL is set), drives it with wrk (a separate process),
// and measures ops/s and p50/p99 latency at 1, 16 and 64 connections for 1 KiB
// encrypt, decrypt, data-key, Ed25519 sign, HMAC and a batch encrypt of 100
// items, plus key creation and listing/filtering over an inventory of 100k keys.
// In the same run it measures the ceiling — bench/ceiling.mjs, a bare Fastify
// server doing the same AES-GCM work on the same payloads, over HTTP and HTTPS —
// and reports each Keyward figure as a ratio to it.
//
// Output: .bench/results-<date>.json and .bench/results-<date>.md.
//
// Options:
//   --quick              short smoke run (2 s per measurement, 3k keys)
//   --duration SECONDS   per measurement (default 5)
//   --keys N             inventory size for the listing measurements (default 100000)
//   --connections LIST   comma-separated (default 1,16,64)
//   --stores LIST        sqlite,postgres (default: sqlite, plus postgres when
//                        KEYWARD_BENCH_DATABASE_URL is set)
//   --profile            also run Keyward (SQLite) under `node --cpu-prof` with the
//                        encrypt, batch-encrypt, key-creation and filtered-listing
//                        loads in turn (listing over an inventory of --keys keys,
//                        built before the profiler starts), at the highest
//                        connection count, and list the top self-time functions
//   --profile-only       only the profiles (no ceiling, no stores)
//   --rounds N           paired ceiling/Keyward rounds for the headline ratio (default 3)
//   --workers N          run Keyward with `--workers N`, and the ceiling with N
//                        node:cluster workers too (default 1: one process each;
//                        the profiles always run one process)
//
// KEYWARD_BENCH_DATABASE_URL must name a PostgreSQL database whose user may
// CREATE DATABASE; the bench creates a fresh database beside it and drops it.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarizeProfile } from './profile-summary.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_DIR = join(ROOT, '.bench');
const WRK_SCRIPT = join(ROOT, 'bench', 'wrk.lua');
const SERVER_MAIN = join(ROOT, 'packages', 'server', 'dist', 'main.js');
const CEILING = join(ROOT, 'bench', 'ceiling.mjs');

// ---------------------------------------------------------------- options

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    keys: { type: 'string' },
    connections: { type: 'string' },
    stores: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1, 30);
  process.stdout.write(`${head.map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
  process.exit(0);
}

const QUICK = opts.quick;
const DURATION = Number(opts.duration ?? (QUICK ? 2 : 5));
const WARMUP = QUICK ? 1 : 2;
const INVENTORY = Number(opts.keys ?? (QUICK ? 3000 : 100_000));
const CONNECTIONS = (opts.connections ?? '1,16,64').split(',').map(Number);
const TOP_C = Math.max(...CONNECTIONS);
const ROUNDS = Number(opts.rounds ?? (QUICK ? 1 : 3));
const WORKERS = Number(opts.workers ?? 1);
const PG_BASE_URL = process.env.KEYWARD_BENCH_DATABASE_URL ?? null;
const STORES = (opts.stores ?? (PG_BASE_URL ? 'sqlite,postgres' : 'sqlite')).split(',');
if (STORES.includes('postgres') && !PG_BASE_URL) fail('--stores postgres needs KEYWARD_BENCH_DATABASE_URL');
for (const n of [DURATION, INVENTORY, ROUNDS, WORKERS, ...CONNECTIONS]) if (!Number.isInteger(n) || n < 1) fail(`bad numeric option: ${n}`);

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------- prerequisites

if (spawnSync('wrk', ['--version']).error) {
  fail(
    'wrk is not installed. It is the load generator (a separate process from the server).\n' +
      '  Debian/Ubuntu: apt-get install -y wrk\n' +
      '  macOS:         brew install wrk',
  );
}
if (!existsSync(SERVER_MAIN)) fail(`${SERVER_MAIN} is missing; run npm run build first (npm run bench does)`);

const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
const RUN_DIR = join(BENCH_DIR, `run-${stamp}`);
mkdirSync(RUN_DIR, { recursive: true });

const log = (line) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------- processes

const children = new Set();
function cleanup() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

async function freePort() {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a node process; resolves once `probe()` succeeds. */
async function startProcess(label, args, env, probe) {
  const stderrFile = join(RUN_DIR, `${label}.stderr.log`);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  child.once('exit', () => {
    children.delete(child);
    writeFileSync(stderrFile, stderr);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const done = await Promise.race([exited, sleep(100).then(() => null)]);
    if (done) fail(`${label} exited during start (${done.code ?? done.signal}): ${stderr.trim().split('\n').pop() ?? ''}`);
    if (await probe().catch(() => false)) break;
    if (Date.now() > deadline) fail(`${label} did not become ready in 30 s`);
  }
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const r = await Promise.race([exited, sleep(15_000).then(() => null)]);
      if (!r) child.kill('SIGKILL');
    },
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

// ---------------------------------------------------------------- HTTP client (setup and fill only)

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function call(base, method, path, { token, body } = {}) {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((ok, ko) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {}
          ok({ status: res.statusCode, json, text });
        });
      },
    );
    req.on('error', ko);
    if (payload) req.write(payload);
    req.end();
  });
}

async function must(base, method, path, options, expected = [200, 201, 204]) {
  const r = await call(base, method, path, options);
  if (!expected.includes(r.status)) fail(`${method} ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return r.json;
}

// ---------------------------------------------------------------- wrk

let bodySeq = 0;
function bodyFile(body) {
  const file = join(RUN_DIR, `body-${++bodySeq}.json`);
  writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

/**
 * Runs wrk once (one thread: the machine has two cores, one for the server,
 * one for the load generator) and returns its figures.
 */
function wrk(url, { method = 'POST', path, body, token, mode = 'static', prefix, connections, duration }) {
  const env = {
    ...process.env,
    BENCH_METHOD: method,
    BENCH_PATH: path,
    BENCH_BODY_FILE: body ? bodyFile(body) : '',
    BENCH_TOKEN: token ?? '',
    BENCH_MODE: mode,
    BENCH_PREFIX: prefix ?? 'bench',
  };
  const args = ['-t', '1', '-c', String(connections), '-d', `${duration}s`, '--timeout', '10s', '--latency', '-s', WRK_SCRIPT, url];
  return new Promise((ok) => {
    const child = spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', () => {
      children.delete(child);
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) fail(`wrk failed for ${method} ${path}: ${out.slice(0, 500)}`);
      const r = JSON.parse(line.slice('BENCH_RESULT '.length));
      // A run in which no request completed (every request slower than the
      // run) counts as an error: its latency figures are meaningless.
      const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.status + r.errors.timeout + (r.requests === 0 ? 1 : 0);
      const seconds = r.durationUs / 1e6;
      ok({
        connections,
        requests: r.requests,
        seconds: round(seconds, 2),
        opsPerSec: round(r.requests / seconds, 1),
        p50Ms: round(r.latencyUs.p50 / 1000, 3),
        p90Ms: round(r.latencyUs.p90 / 1000, 3),
        p99Ms: round(r.latencyUs.p99 / 1000, 3),
        maxMs: round(r.latencyUs.max / 1000, 3),
        errors,
        errorDetail: r.requests === 0 ? { ...r.errors, noneCompleted: true } : r.errors,
      });
    });
  });
}

function round(n, digits) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------- payloads

const KIB = 1024;
const plaintext = randomBytes(KIB).toString('base64');
const encryptBody = { plaintext };
const batchBody = { items: Array.from({ length: 100 }, () => ({ plaintext: randomBytes(KIB).toString('base64') })) };

// ---------------------------------------------------------------- TLS material

function makeCert() {
  const dir = join(BENCH_DIR, 'tls');
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '30',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    if (r.status !== 0) fail(`openssl could not make a self-signed certificate: ${r.stderr}`);
  }
  return { cert, key };
}

// ---------------------------------------------------------------- ceiling

async function startCeiling(tls) {
  const port = await freePort();
  const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const args = [
    CEILING,
    '--listen',
    `127.0.0.1:${port}`,
    '--workers',
    String(WORKERS),
    ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []),
  ];
  const probe = async () => {
    if (tls) {
      const https = await import('node:https');
      return new Promise((ok) => {
        const req = https.request(`${base}/health`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          ok(res.statusCode === 200);
        });
        req.on('error', () => ok(false));
        req.end();
      });
    }
    return (await call(base, 'GET', '/health')).status === 200;
  };
  const proc = await startProcess(tls ? 'ceiling-https' : 'ceiling-http', args, {}, probe);
  return { ...proc, base };
}

async function measureCeiling(results, tls) {
  const http1 = await startCeiling(null);
  const https1 = await startCeiling(tls);
  const path = '/v1/keys/bench-aes/encrypt';
  for (const [label, srv] of [
    ['http', http1],
    ['https', https1],
  ]) {
    log(`ceiling ${label}: encrypt 1 KiB`);
    await wrk(srv.base, { path, body: encryptBody, connections: 16, duration: WARMUP });
    results.ceiling[label] = { encrypt: [] };
    for (const c of CONNECTIONS) {
      const r = await wrk(srv.base, { path, body: encryptBody, connections: c, duration: DURATION });
      results.ceiling[label].encrypt.push(r);
      log(`  c=${c}: ${fmtOps(r.opsPerSec)} ops/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms${r.errors ? ` ERRORS ${r.errors}` : ''}`);
    }
  }
  log('ceiling http: batch encrypt 100 × 1 KiB');
  results.ceiling.http.batch = [];
  for (const c of CONNECTIONS) {
    const r = await wrk(http1.base, { path, body: batchBody, connections: c, duration: DURATION });
    r.itemsPerSec = round(r.opsPerSec * 100, 1);
    results.ceiling.http.batch.push(r);
    log(`  c=${c}: ${fmtOps(r.itemsPerSec)} items/s p99 ${r.p99Ms} ms`);
  }
  await https1.stop();
  return http1; // kept running for the paired rounds
}

const fmtOps = (n) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

// ---------------------------------------------------------------- PostgreSQL database

async function createPgDatabase() {
  const pg = (await import('pg')).default;
  const name = `keyward_bench_${stamp.replace(/[^0-9]/g, '')}_${process.pid}`;
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(PG_BASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

// ---------------------------------------------------------------- Keyward

async function startKeyward(label, { dataDir, databaseUrl, adminToken, tls, nodeFlags = [], workers = WORKERS }) {
  const port = await freePort();
  const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const args = [
    ...nodeFlags,
    SERVER_MAIN,
    'server',
    '--data-dir',
    dataDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--workers',
    String(workers),
    ...(databaseUrl ? ['--database-url', databaseUrl] : []),
    ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []),
  ];
  const probe = async () => {
    if (tls) {
      const https = await import('node:https');
      return new Promise((ok) => {
        const req = https.request(`${base}/v1/sys/health`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          ok(res.statusCode === 200);
        });
        req.on('error', () => ok(false));
        req.end();
      });
    }
    return (await call(base, 'GET', '/v1/sys/health')).status === 200;
  };
  const proc = await startProcess(label, args, { KEYWARD_INIT_ADMIN_TOKEN: adminToken }, probe);
  return { ...proc, base };
}

/** Keys, a key-user principal with grants, an auditor; returns the tokens and payloads. */
async function setUp(base, admin) {
  const env = { environment: 'prod', owner: 'team-bench' };
  await must(base, 'POST', '/v1/keys', { token: admin, body: { name: 'bench-aes', algorithm: 'aes-256-gcm', ...env } });
  await must(base, 'POST', '/v1/keys', { token: admin, body: { name: 'bench-ed25519', algorithm: 'ed25519', ...env } });
  await must(base, 'POST', '/v1/keys', { token: admin, body: { name: 'bench-hmac', algorithm: 'hmac-sha256', ...env } });
  await must(base, 'POST', '/v1/principals', {
    token: admin,
    body: { id: 'bench-user', kind: 'service', roles: ['key-user'], environments: ['prod'] },
  });
  await must(base, 'POST', '/v1/principals', { token: admin, body: { id: 'bench-auditor', kind: 'service', roles: ['auditor'] } });
  const user = (await must(base, 'POST', '/v1/principals/bench-user/tokens', { token: admin, body: { ttl: '1d' } })).token;
  const auditor = (await must(base, 'POST', '/v1/principals/bench-auditor/tokens', { token: admin, body: { ttl: '1d' } })).token;
  const grant = (key, operations) =>
    must(base, 'POST', `/v1/keys/${key}/grants`, { token: admin, body: { principal: 'bench-user', operations } });
  await grant('bench-aes', ['encrypt', 'decrypt', 'data-key']);
  await grant('bench-ed25519', ['sign']);
  await grant('bench-hmac', ['mac']);
  const { ciphertext } = await must(base, 'POST', '/v1/keys/bench-aes/encrypt', { token: user, body: encryptBody });
  return { user, auditor, decryptBody: { ciphertext } };
}

function operations(decryptBody) {
  return [
    { op: 'encrypt', path: '/v1/keys/bench-aes/encrypt', body: encryptBody },
    { op: 'decrypt', path: '/v1/keys/bench-aes/decrypt', body: decryptBody },
    { op: 'data-key', path: '/v1/keys/bench-aes/data-key', body: { bytes: 32 } },
    { op: 'sign-ed25519', path: '/v1/keys/bench-ed25519/sign', body: { message: plaintext } },
    { op: 'mac-hmac-sha256', path: '/v1/keys/bench-hmac/mac', body: { message: plaintext } },
    { op: 'batch-encrypt-100', path: '/v1/keys/bench-aes/encrypt', body: batchBody, items: 100 },
  ];
}

const LISTS = [
  { op: 'list-first-page', path: '/v1/keys?limit=100' },
  { op: 'list-owner', path: '/v1/keys?owner=team-042&limit=100' },
  { op: 'list-env-tag', path: '/v1/keys?environment=prod&tag=app:app-04&limit=100' },
];

/** Creates keys over HTTP with `concurrency` requests in flight until `count` succeeded. */
async function fill(base, admin, count, concurrency, prefix) {
  let next = 0;
  let failed = 0;
  const envs = ['prod', 'staging', 'dev', 'test'];
  const started = Date.now();
  let lastLog = started;
  async function worker() {
    while (next < count) {
      const n = ++next;
      const body = {
        name: `${prefix}-${n}`,
        algorithm: 'aes-256-gcm',
        owner: `team-${String(n % 100).padStart(3, '0')}`,
        environment: envs[n % 4],
        tags: { app: `app-${String(n % 10).padStart(2, '0')}` },
      };
      const r = await call(base, 'POST', '/v1/keys', { token: admin, body });
      if (r.status !== 201 && ++failed > 100) fail(`key creation keeps failing: ${r.status} ${r.text.slice(0, 200)}`);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`  … ${next.toLocaleString('en-US')} / ${count.toLocaleString('en-US')}`);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { created: count - failed, seconds: (Date.now() - started) / 1000 };
}

async function measureStore(store, results, ceilingHttp, tls) {
  const adminToken = `kw_bench_${randomBytes(24).toString('hex')}`;
  const dataDir = join(RUN_DIR, `data-${store}`);
  const pg = store === 'postgres' ? await createPgDatabase() : null;
  const out = { store, operations: {}, creation: [], inventory: null, lists: {}, paired: null, https: null };
  results.stores[store] = out;
  try {
    let kw = await startKeyward(`keyward-${store}`, { dataDir, databaseUrl: pg?.url, adminToken });
    log(`\nKeyward on ${store} at ${kw.base}`);
    const { user, auditor, decryptBody } = await setUp(kw.base, adminToken);

    for (const spec of operations(decryptBody)) {
      log(`${store}: ${spec.op}`);
      await wrk(kw.base, { path: spec.path, body: spec.body, token: user, connections: 16, duration: WARMUP });
      out.operations[spec.op] = [];
      for (const c of CONNECTIONS) {
        const r = await wrk(kw.base, { path: spec.path, body: spec.body, token: user, connections: c, duration: DURATION });
        if (spec.items) r.itemsPerSec = round(r.opsPerSec * spec.items, 1);
        out.operations[spec.op].push(r);
        log(
          `  c=${c}: ${fmtOps(r.opsPerSec)} ops/s${spec.items ? ` (${fmtOps(r.itemsPerSec)} items/s)` : ''} p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms${r.errors ? ` ERRORS ${JSON.stringify(r.errorDetail)}` : ''}`,
        );
      }
      if (!kw.alive()) fail(`keyward on ${store} died during ${spec.op}`);
    }

    // Paired rounds for the headline ratio: ceiling and Keyward alternately, so
    // that the noise of a shared machine hits both sides alike.
    log(`${store}: paired encrypt rounds at c=${TOP_C} (ceiling, Keyward) × ${ROUNDS}`);
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      const ceil = await wrk(ceilingHttp.base, {
        path: '/v1/keys/bench-aes/encrypt',
        body: encryptBody,
        connections: TOP_C,
        duration: DURATION,
      });
      const kwr = await wrk(kw.base, {
        path: '/v1/keys/bench-aes/encrypt',
        body: encryptBody,
        token: user,
        connections: TOP_C,
        duration: DURATION,
      });
      const ratio = round(kwr.opsPerSec / ceil.opsPerSec, 3);
      rounds.push({
        ceilingOpsPerSec: ceil.opsPerSec,
        keywardOpsPerSec: kwr.opsPerSec,
        keywardP99Ms: kwr.p99Ms,
        ratio,
        keywardErrors: kwr.errors,
      });
      log(
        `  round ${i + 1}: ceiling ${fmtOps(ceil.opsPerSec)} ops/s, Keyward ${fmtOps(kwr.opsPerSec)} ops/s (p99 ${kwr.p99Ms} ms) → ${ratio}`,
      );
    }
    const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio);
    out.paired = { connections: TOP_C, rounds, medianRatio: sorted[Math.floor(sorted.length / 2)].ratio };

    // Key creation, measured with wrk; the keys count toward the inventory.
    log(`${store}: key creation`);
    let created = 0;
    for (const c of CONNECTIONS) {
      const r = await wrk(kw.base, {
        path: '/v1/keys',
        token: adminToken,
        mode: 'create',
        prefix: `create-c${c}`,
        connections: c,
        duration: DURATION,
      });
      out.creation.push(r);
      created += r.requests - r.errors;
      log(
        `  c=${c}: ${fmtOps(r.opsPerSec)} keys/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms${r.errors ? ` ERRORS ${JSON.stringify(r.errorDetail)}` : ''}`,
      );
    }

    // The rest of the inventory, over HTTP (never behind Keyward's back).
    const rest = Math.max(0, INVENTORY - created - 3);
    log(
      `${store}: filling the inventory to ~${INVENTORY.toLocaleString('en-US')} keys (${rest.toLocaleString('en-US')} more over HTTP, 64 in flight)`,
    );
    const f = await fill(kw.base, adminToken, rest, 64, 'fill');
    out.inventory = {
      target: INVENTORY,
      createdByWrk: created,
      createdByFill: f.created,
      fillSeconds: round(f.seconds, 1),
      fillKeysPerSec: round(f.created / f.seconds, 1),
    };
    log(`  ${f.created.toLocaleString('en-US')} keys in ${f.seconds.toFixed(1)} s (${fmtOps(f.created / f.seconds)} keys/s)`);

    for (const spec of LISTS) {
      const probe = await must(kw.base, 'GET', spec.path, { token: auditor });
      log(`${store}: ${spec.op} (${spec.path}, ${probe.keys.length} keys on the page)`);
      await wrk(kw.base, { method: 'GET', path: spec.path, token: auditor, connections: 16, duration: WARMUP });
      out.lists[spec.op] = { path: spec.path, pageSize: probe.keys.length, results: [] };
      for (const c of CONNECTIONS) {
        const r = await wrk(kw.base, { method: 'GET', path: spec.path, token: auditor, connections: c, duration: DURATION });
        out.lists[spec.op].results.push(r);
        log(
          `  c=${c}: ${fmtOps(r.opsPerSec)} pages/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms${r.errors ? ` ERRORS ${JSON.stringify(r.errorDetail)}` : ''}`,
        );
      }
    }
    await kw.stop();

    // HTTPS: the same server and data, restarted with a certificate (SQLite only).
    if (store === 'sqlite') {
      kw = await startKeyward(`keyward-${store}-https`, { dataDir, databaseUrl: pg?.url, adminToken, tls });
      log(`${store}: encrypt over HTTPS (${kw.base})`);
      await wrk(kw.base, { path: '/v1/keys/bench-aes/encrypt', body: encryptBody, token: user, connections: 16, duration: WARMUP });
      out.https = { encrypt: [] };
      for (const c of CONNECTIONS) {
        const r = await wrk(kw.base, {
          path: '/v1/keys/bench-aes/encrypt',
          body: encryptBody,
          token: user,
          connections: c,
          duration: DURATION,
        });
        out.https.encrypt.push(r);
        log(`  c=${c}: ${fmtOps(r.opsPerSec)} ops/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms${r.errors ? ` ERRORS ${r.errors}` : ''}`);
      }
      await kw.stop();
    }
  } finally {
    if (pg) await pg.drop().catch((e) => log(`could not drop the bench database: ${e.message}`));
  }
}

// ---------------------------------------------------------------- profile

async function profileOne(label) {
  const dir = join(RUN_DIR, `prof-${label}`);
  mkdirSync(dir, { recursive: true });
  const adminToken = `kw_bench_${randomBytes(24).toString('hex')}`;
  const dataDir = join(RUN_DIR, `data-profile-${label}`);
  let prepared = null;
  if (label === 'list-owner') {
    // The inventory is built first, by a server not under the profiler, so the profile holds only listing.
    const plain = await startKeyward(`keyward-profile-${label}-fill`, { dataDir, adminToken, workers: 1 });
    prepared = await setUp(plain.base, adminToken);
    log(`
profile: building an inventory of ${INVENTORY.toLocaleString('en-US')} keys for the listing profile`);
    await fill(plain.base, adminToken, INVENTORY, 64, 'fill');
    await plain.stop();
  }
  const kw = await startKeyward(`keyward-profile-${label}`, {
    dataDir,
    adminToken,
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    // One process: one profile that holds all the work.
    workers: 1,
  });
  log(`\nprofile: Keyward (SQLite) under node --cpu-prof, ${label} at c=${TOP_C} for ${DURATION * 2} s`);
  const { user, auditor } = prepared ?? (await setUp(kw.base, adminToken));
  const spec = {
    encrypt: { path: '/v1/keys/bench-aes/encrypt', body: encryptBody, token: user },
    'batch-encrypt-100': { path: '/v1/keys/bench-aes/encrypt', body: batchBody, token: user },
    create: { path: '/v1/keys', token: adminToken, mode: 'create' },
    'list-owner': { method: 'GET', path: '/v1/keys?owner=team-042&limit=100', token: auditor },
  }[label];
  await wrk(kw.base, { ...spec, prefix: 'warm', connections: 16, duration: WARMUP });
  const r = await wrk(kw.base, { ...spec, prefix: 'prof', connections: TOP_C, duration: DURATION * 2 });
  log(`  under the profiler: ${fmtOps(r.opsPerSec)} ops/s p99 ${r.p99Ms} ms`);
  await kw.stop();
  await sleep(500);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    log('  no .cpuprofile written');
    return null;
  }
  const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')), { top: 25, root: ROOT });
  return { load: label, file: join(dir, file).replace(`${ROOT}/`, ''), result: r, ...summary };
}

async function profile(results) {
  results.profile = [];
  for (const load of ['encrypt', 'batch-encrypt-100', 'create', 'list-owner']) {
    const p = await profileOne(load);
    if (p) results.profile.push(p);
  }
}

// ---------------------------------------------------------------- report

function machine() {
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' });
  const model = /Model name:\s*(.+)/.exec(lscpu.stdout ?? '')?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(spawnSync('nproc', [], { encoding: 'utf8' }).stdout?.trim() || os.cpus().length),
    cpu: model,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    wrk: (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout || '').split('\n')[0].trim(),
    loadAverageAtStart: os.loadavg().map((n) => round(n, 2)),
  };
}

const at = (list, c) => list?.find((r) => r.connections === c);
const ms = (n) => (n === undefined ? '—' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratioCell = (n) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`);

function evaluateTargets(results) {
  const targets = [];
  const ceil64 = at(results.ceiling.http?.encrypt, TOP_C);
  for (const [store, s] of Object.entries(results.stores)) {
    const enc = at(s.operations.encrypt, TOP_C);
    const batch = at(s.operations['batch-encrypt-100'], TOP_C);
    const create = at(s.creation, TOP_C);
    const list = at(s.lists['list-owner']?.results, TOP_C);
    if (s.paired) {
      targets.push({
        target: `1 KiB encrypt (token, grant, durable audit) ≥ 0.6 × bare-Fastify ceiling, c=${TOP_C} (median of ${s.paired.rounds.length} paired rounds)`,
        store,
        measured: `${s.paired.medianRatio.toFixed(2)}× (grid: ${enc && ceil64 ? (enc.opsPerSec / ceil64.opsPerSec).toFixed(2) : '—'}×)`,
        pass: s.paired.medianRatio >= 0.6,
      });
    }
    if (enc)
      targets.push({
        target: `1 KiB encrypt p99 ≤ 10 ms, c=${TOP_C}`,
        store,
        measured: `${ms(enc.p99Ms)} ms`,
        pass: enc.p99Ms <= 10 && enc.errors === 0,
      });
    if (enc && batch) {
      const x = batch.itemsPerSec / enc.opsPerSec;
      targets.push({
        target: `batch of 100: items/s ≥ 10 × single encrypt ops/s, c=${TOP_C}`,
        store,
        measured: `${fmtOps(batch.itemsPerSec)} vs ${fmtOps(enc.opsPerSec)} = ${x.toFixed(1)}×`,
        pass: x >= 10,
      });
    }
    if (create && store === 'sqlite') {
      targets.push({
        target: `key creation ≥ 1,000/s on SQLite, c=${TOP_C}`,
        store,
        measured: `${fmtOps(create.opsPerSec)}/s${create.errors ? ` (${create.errors} errors)` : ''}`,
        pass: create.opsPerSec >= 1000 && create.errors === 0,
      });
    }
    if (list) {
      const n = (s.inventory?.createdByWrk ?? 0) + (s.inventory?.createdByFill ?? 0) + 3;
      targets.push({
        target: `filtered inventory page (owner=, 100 keys) over ${n.toLocaleString('en-US')} keys, p99 ≤ 50 ms, c=${TOP_C}`,
        store,
        measured: `${ms(list.p99Ms)} ms (c=1: ${ms(at(s.lists['list-owner'].results, 1)?.p99Ms)} ms)`,
        pass: list.p99Ms <= 50 && list.errors === 0,
      });
    }
  }
  return targets;
}

function markdown(results) {
  const L = [];
  const m = results.machine;
  L.push(`# Keyward benchmark — ${results.date}`);
  L.push('');
  L.push(
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}, ${m.wrk}. Load average at start: ${m.loadAverageAtStart.join(' / ')}.`,
  );
  L.push(
    `Each figure: wrk, 1 thread, ${results.config.durationSeconds} s after a ${results.config.warmupSeconds} s warm-up; payload 1 KiB; batch = 100 × 1 KiB. ${results.config.workers > 1 ? `Keyward with \`--workers ${results.config.workers}\`, the ceiling with ${results.config.workers} cluster workers. ` : 'Keyward and the ceiling in one process each. '}${results.config.quick ? '**Quick smoke run: figures are indicative only.**' : ''}`,
  );
  L.push(
    'Ratio: ops/s ÷ the bare-Fastify ceiling (HTTP encrypt) at the same connection count; batch: items/s ÷ ceiling batch items/s; HTTPS rows ÷ the HTTPS ceiling.',
  );
  L.push('');
  L.push('## Ceiling (bare Fastify, same AES-256-GCM work)');
  L.push('');
  L.push('| variant | conns | ops/s | items/s | p50 ms | p99 ms | errors |');
  L.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const [label, list] of [
    ['HTTP encrypt', results.ceiling.http?.encrypt],
    ['HTTPS encrypt', results.ceiling.https?.encrypt],
    ['HTTP batch 100', results.ceiling.http?.batch],
  ]) {
    for (const r of list ?? []) {
      L.push(
        `| ${label} | ${r.connections} | ${fmtOps(r.opsPerSec)} | ${r.itemsPerSec ? fmtOps(r.itemsPerSec) : '—'} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${r.errors} |`,
      );
    }
  }
  for (const [store, s] of Object.entries(results.stores)) {
    L.push('');
    L.push(`## Keyward on ${store}`);
    L.push('');
    L.push('| operation | conns | ops/s | items/s | p50 ms | p99 ms | ratio to ceiling | errors |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    const row = (name, r, ceilingList, useItems) => {
      const c = at(ceilingList, r.connections);
      const ratio = c ? (useItems ? r.itemsPerSec / c.itemsPerSec : r.opsPerSec / c.opsPerSec) : undefined;
      L.push(
        `| ${name} | ${r.connections} | ${fmtOps(r.opsPerSec)} | ${r.itemsPerSec ? fmtOps(r.itemsPerSec) : '—'} | ${r.requests === 0 ? '—' : ms(r.p50Ms)} | ${r.requests === 0 ? '—' : ms(r.p99Ms)} | ${ratioCell(ratio)} | ${r.requests === 0 ? 'none completed' : r.errors} |`,
      );
    };
    for (const [op, list] of Object.entries(s.operations)) {
      for (const r of list)
        row(op, r, op.startsWith('batch') ? results.ceiling.http?.batch : results.ceiling.http?.encrypt, op.startsWith('batch'));
    }
    for (const r of s.https?.encrypt ?? []) row('encrypt over HTTPS', r, results.ceiling.https?.encrypt, false);
    for (const r of s.creation) row('create key (aes-256-gcm)', r, results.ceiling.http?.encrypt, false);
    for (const [op, l] of Object.entries(s.lists))
      for (const r of l.results) row(`${op} \`${l.path.replace('/v1/keys', '')}\``, r, results.ceiling.http?.encrypt, false);
    if (s.inventory) {
      L.push('');
      L.push(
        `Inventory: ~${(s.inventory.createdByWrk + s.inventory.createdByFill + 3).toLocaleString('en-US')} keys (${s.inventory.createdByFill.toLocaleString('en-US')} created by the fill at ${fmtOps(s.inventory.fillKeysPerSec)} keys/s, 64 in flight, Node client).`,
      );
    }
    if (s.paired) {
      L.push('');
      L.push(
        `Paired encrypt rounds at c=${s.paired.connections} (ceiling, then Keyward): ${s.paired.rounds.map((r) => `${fmtOps(r.keywardOpsPerSec)}/${fmtOps(r.ceilingOpsPerSec)} = ${r.ratio.toFixed(2)}`).join('; ')}; median ${s.paired.medianRatio.toFixed(2)}×.`,
      );
    }
  }
  L.push('');
  L.push('## Targets');
  L.push('');
  L.push('| target | store | measured | verdict |');
  L.push('|---|---|---|---|');
  for (const t of results.targets) L.push(`| ${t.target} | ${t.store} | ${t.measured} | ${t.pass ? 'PASS' : 'GAP'} |`);
  for (const p of results.profile ?? []) {
    L.push('');
    L.push(`## Profile: ${p.load} (Keyward on SQLite, c=${TOP_C}, ${fmtOps(p.result.opsPerSec)} ops/s under the profiler)`);
    L.push('');
    L.push(`${p.file}; ${p.totalMs.toFixed(0)} ms sampled (server start included), ${(100 * p.idleShare).toFixed(1)} % idle.`);
    L.push('');
    L.push('| share of busy time | area |');
    L.push('|---:|---|');
    for (const a of p.byArea) L.push(`| ${(100 * a.share).toFixed(1)} % | ${a.area} |`);
    L.push('');
    L.push('| self % of busy | self ms | function | where |');
    L.push('|---:|---:|---|---|');
    for (const f of p.top) L.push(`| ${(100 * f.share).toFixed(1)} | ${f.selfMs.toFixed(0)} | \`${f.name}\` | ${f.where} |`);
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------- main

const results = {
  date: new Date().toISOString(),
  machine: machine(),
  config: {
    quick: QUICK,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    connections: CONNECTIONS,
    inventory: INVENTORY,
    stores: STORES,
    pairedRounds: ROUNDS,
    workers: WORKERS,
    loadGenerator: 'wrk -t1 (separate process)',
    payloadBytes: KIB,
    batchItems: 100,
  },
  ceiling: {},
  stores: {},
  targets: [],
  profile: [],
};

const started = Date.now();
log(
  `Keyward benchmark${QUICK ? ' (quick)' : ''}: ${STORES.join(' + ')}, ${DURATION} s per figure, connections ${CONNECTIONS.join('/')}, inventory ${INVENTORY.toLocaleString('en-US')} keys, ${WORKERS} worker${WORKERS > 1 ? 's' : ''}`,
);
log(`work directory ${RUN_DIR.replace(`${ROOT}/`, '')}`);
const tls = makeCert();
results.phaseSeconds = {};
if (!opts['profile-only']) {
  const ceilingHttp = await measureCeiling(results, tls);
  results.phaseSeconds.ceiling = round((Date.now() - started) / 1000, 1);
  for (const store of STORES) {
    const t0 = Date.now();
    await measureStore(store, results, ceilingHttp, tls);
    results.phaseSeconds[store] = round((Date.now() - t0) / 1000, 1);
  }
  await ceilingHttp.stop();
}
if (opts.profile || opts['profile-only']) await profile(results);
results.targets = evaluateTargets(results);
results.elapsedSeconds = round((Date.now() - started) / 1000, 1);

const md = markdown(results);
const jsonFile = join(BENCH_DIR, `results-${stamp}.json`);
const mdFile = join(BENCH_DIR, `results-${stamp}.md`);
writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(mdFile, md);
log(`\n${md}`);
log(`phases (s): ${JSON.stringify(results.phaseSeconds)}`);
log(`wrote ${jsonFile.replace(`${ROOT}/`, '')} and ${mdFile.replace(`${ROOT}/`, '')} (${results.elapsedSeconds} s)`);
agent.destroy();
process.exit(0);
