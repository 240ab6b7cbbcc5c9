import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerOptions, UsageError } from '../src/server-options.js';
import { freePort, KEYWARD_BIN, stop, useProcesses, waitForOutput } from './support/processes.js';

/**
 * Certificate-only mode (`--tls-client-auth required`, docs/operations.md):
 * the handshake needs a client certificate of the client CA, and bearer
 * tokens are refused. Against the real server over real TLS, with
 * certificates from `keyward pki` and an openssl server certificate.
 */

// The servers and the directory serve every test of the file: cleaned up after all of them.
const processes = useProcesses({ after: afterAll });
const dir = processes.tempDir('kw-mtls-only-');
const token = `kw_${'5c'.repeat(20)}`;

interface Running {
  port: number;
  child: ChildProcess;
  output: () => string;
}

async function startServer(dataDir: string, args: string[]): Promise<Running> {
  const port = await freePort();
  const server = processes.spawn(['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...args], {
    KEYWARD_INIT_ADMIN_TOKEN: token,
    KEYWARD_WORKERS: '1',
  });
  await waitForOutput(server, 'keyward listening');
  return { port, child: server.child, output: server.output };
}

type Answer = { status: number; body: Record<string, any> } | { error: string };

function call(
  port: number,
  method: string,
  path: string,
  options: { bearer?: string; cert?: string; ca: string; body?: unknown },
): Promise<Answer> {
  return new Promise((resolve) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: readFileSync(options.ca),
        agent: false,
        ...(options.cert ? { cert: readFileSync(`${options.cert}.crt`), key: readFileSync(`${options.cert}.key`) } : {}),
        headers: {
          ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : (JSON.parse(text) as Record<string, any>) }));
      },
    );
    // A refused handshake: with TLS 1.3 the client learns of it when it reads (an alert, or a reset).
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(payload);
  });
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(KEYWARD_BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--tls-client-auth parsing', () => {
  const base = ['--listen', '127.0.0.1:8200', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'];

  it('is optional by default, required when asked', () => {
    expect(parseServerOptions([...base, '--tls-client-ca', 'ca.pem'], {}).tlsClientAuth).toBe('optional');
    expect(parseServerOptions([...base, '--tls-client-ca', 'ca.pem', '--tls-client-auth', 'required'], {}).tlsClientAuth).toBe('required');
    expect(parseServerOptions([...base, '--tls-client-ca', 'ca.pem', '--tls-client-auth', 'optional'], {}).tlsClientAuth).toBe('optional');
  });

  it('refuses another value, and the flag without a client CA, naming the flag', () => {
    expect(() => parseServerOptions([...base, '--tls-client-ca', 'ca.pem', '--tls-client-auth', 'always'], {})).toThrow(
      new UsageError("--tls-client-auth: expected optional or required, got 'always'"),
    );
    expect(() => parseServerOptions([...base, '--tls-client-auth', 'required'], {})).toThrow(
      new UsageError('--tls-client-auth needs --tls-client-ca'),
    );
  });

  it('the server exits 2 with the one-line reason', () => {
    const result = cli(['server', '--data-dir', join(dir, 'never'), '--tls-client-auth', 'required']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toContain('--tls-client-auth needs --tls-client-ca');
  });
});

describe('certificate-only mode against the real server', () => {
  const ca = join(dir, 'ca');
  const foreign = join(dir, 'foreign');
  const dataDir = join(dir, 'data');
  let serverCert: string;
  let server: Running;

  beforeAll(async () => {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    serverCert = cert;
    expect(cli(['pki', 'init', '--dir', ca]).status).toBe(0);
    expect(cli(['pki', 'init', '--dir', foreign]).status).toBe(0);
    const tls = ['--tls-cert', cert, '--tls-key', key, '--tls-client-ca', join(ca, 'ca.crt')];

    // Bootstrap as documented: map the certificates while tokens still work, then restart certificate-only.
    const setup = await startServer(dataDir, tls);
    const env = { KEYWARD_ADDR: `https://127.0.0.1:${setup.port}`, KEYWARD_TOKEN: token, NODE_EXTRA_CA_CERTS: cert };
    const created = await call(setup.port, 'POST', '/v1/principals', {
      bearer: token,
      ca: cert,
      body: { id: 'svc-billing', kind: 'service', roles: ['key-user'] },
    });
    expect('status' in created && created.status).toBe(201);
    for (const principal of ['admin', 'svc-billing']) {
      const issued = cli(['pki', 'issue', '--dir', ca, '--principal', principal], env);
      expect(issued.status, issued.stderr).toBe(0);
    }
    expect(cli(['pki', 'issue', '--dir', foreign, '--principal', 'admin', '--no-register']).status).toBe(0);
    await stop(setup.child);
    server = await startServer(dataDir, [...tls, '--tls-client-auth', 'required']);
  });

  afterAll(async () => {
    if (server) await stop(server.child);
  });

  it('a mapped certificate authenticates without a token', async () => {
    const self = await call(server.port, 'GET', '/v1/auth/self', { cert: join(ca, 'svc-billing'), ca: serverCert });
    expect(self).toMatchObject({ status: 200, body: { principal: { id: 'svc-billing' } } });
    const admin = await call(server.port, 'POST', '/v1/keys', {
      cert: join(ca, 'admin'),
      ca: serverCert,
      body: { name: 'only-certs', algorithm: 'aes-256-gcm', owner: 'team-x' },
    });
    expect(admin).toMatchObject({ status: 201 });
  });

  it('the handshake fails without a certificate, and with one of another CA', async () => {
    const none = await call(server.port, 'GET', '/v1/sys/health', { ca: serverCert });
    expect(none).toHaveProperty('error');
    const other = await call(server.port, 'GET', '/v1/auth/self', { cert: join(foreign, 'admin'), ca: serverCert });
    expect(other).toHaveProperty('error');
  });

  it('a bearer token is refused even beside a good certificate of the same principal, audited; nothing is changed', async () => {
    const refused = await call(server.port, 'POST', '/v1/keys', {
      cert: join(ca, 'admin'),
      bearer: token,
      ca: serverCert,
      body: { name: 'by-token', algorithm: 'aes-256-gcm', owner: 'team-x' },
    });
    expect(refused).toMatchObject({
      status: 401,
      body: {
        error: { code: 'unauthenticated', message: 'bearer tokens are not accepted: this server authenticates by client certificate only' },
      },
    });
    const missing = await call(server.port, 'GET', '/v1/keys/by-token', { cert: join(ca, 'admin'), ca: serverCert });
    expect(missing).toMatchObject({ status: 404 });
    const audit = await call(server.port, 'GET', '/v1/audit/events?outcome=denied', { cert: join(ca, 'admin'), ca: serverCert });
    expect('status' in audit && audit.status).toBe(200);
    const records = ((audit as { body: Record<string, any> }).body.events ?? []) as Array<Record<string, any>>;
    const record = records.find((r) => r.action === 'key.create');
    expect(record).toMatchObject({ actor: null, outcome: 'denied', errorCode: 'unauthenticated', details: { via: 'mtls' } });
    // The token itself is in no record and no log line.
    expect(JSON.stringify(records)).not.toContain(token);
    expect(server.output()).not.toContain(token);
  });

  it('the CLI authenticates with --client-cert and --client-key, trusting the server through --ca-file', () => {
    const addr = `https://127.0.0.1:${server.port}`;
    const cert = ['--client-cert', join(ca, 'admin.crt'), '--client-key', join(ca, 'admin.key')];
    const listed = cli(['--addr', addr, '--ca-file', serverCert, ...cert, '--json', 'key', 'show', 'only-certs']);
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ name: 'only-certs' });
    // The same through the environment.
    const viaEnv = cli(['--json', 'key', 'show', 'only-certs'], {
      KEYWARD_ADDR: addr,
      KEYWARD_CACERT: serverCert,
      KEYWARD_CLIENT_CERT: join(ca, 'admin.crt'),
      KEYWARD_CLIENT_KEY: join(ca, 'admin.key'),
    });
    expect(viaEnv.status, viaEnv.stderr).toBe(0);
    // Without the certificate the handshake fails: a connection error (exit 4 like every unreachable server).
    const without = cli(['--addr', addr, '--ca-file', serverCert, 'key', 'show', 'only-certs']);
    expect(without.status).not.toBe(0);
    expect(without.stdout).toBe('');
  });

  it('health answers with a certificate, and ignores a token there', async () => {
    const health = await call(server.port, 'GET', '/v1/sys/health', { cert: join(ca, 'svc-billing'), bearer: token, ca: serverCert });
    expect(health).toMatchObject({ status: 200, body: { sealed: false } });
  });
});
