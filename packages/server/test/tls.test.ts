import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueClientCertificate } from '../../cli/src/pki/client-ca.js';
import { freePort, KEYWARD_BIN, useProcesses, waitForOutput } from './support/processes.js';

/** TLS, its reload, and mutual TLS with `keyward pki` certificates, against the real server over real TLS (docs/operations.md). */

const DAY_MS = 86_400_000;
// The servers and the directory serve every test of the file: cleaned up after all of them.
const processes = useProcesses({ after: afterAll });
const dir = processes.tempDir('kw-tls-');
const token = `kw_${'7e'.repeat(20)}`;

/** A self-signed server certificate for 127.0.0.1 (openssl), at `name`.crt/.key. */
function serverCertificate(name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
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
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

interface Server {
  port: number;
  child: ChildProcess;
  output: () => string;
}

async function startServer(args: string[]): Promise<Server> {
  const port = await freePort();
  const server = processes.spawn(['server', '--data-dir', join(dir, `data-${port}`), '--listen', `127.0.0.1:${port}`, ...args], {
    KEYWARD_INIT_ADMIN_TOKEN: token,
    KEYWARD_WORKERS: '1',
  });
  await waitForOutput(server, 'keyward listening');
  return { port, child: server.child, output: server.output };
}

interface Answer {
  status: number;
  body: Record<string, any>;
  /** SHA-256 fingerprint of the server certificate this connection saw. */
  fingerprint: string;
  localPort: number;
}

function call(
  port: number,
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string; cert?: string; key?: string; agent?: Agent; ca: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: readFileSync(options.ca),
        ...(options.cert ? { cert: readFileSync(options.cert), key: readFileSync(options.key as string) } : {}),
        ...(options.agent ? { agent: options.agent } : { agent: false }),
        headers: {
          ...(options.bearer ? { authorization: `Bearer ${options.bearer}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        // Taken now: a keep-alive agent takes the socket back when the answer ends.
        const socket = res.socket as import('node:tls').TLSSocket;
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        const localPort = socket.localPort ?? 0;
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, any>),
            fingerprint,
            localPort,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const fingerprintOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;

/** Runs `openssl s_client` with `flag`; true when the handshake succeeded. */
function handshake(port: number, flag: string, ca: string): boolean {
  const result = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, flag, '-CAfile', ca, '-verify_return_error'], {
    input: '',
    timeout: 10_000,
  });
  return result.status === 0;
}

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(KEYWARD_BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('TLS versions', () => {
  it('TLS 1.3 only by default; --tls-min-version 1.2 accepts 1.2 too', async () => {
    const tls = serverCertificate('versions');
    const strict = await startServer(['--tls-cert', tls.cert, '--tls-key', tls.key]);
    expect(handshake(strict.port, '-tls1_3', tls.cert)).toBe(true);
    expect(handshake(strict.port, '-tls1_2', tls.cert)).toBe(false);
    const lenient = await startServer(['--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-min-version', '1.2']);
    expect(handshake(lenient.port, '-tls1_2', tls.cert)).toBe(true);
    expect(handshake(lenient.port, '-tls1_3', tls.cert)).toBe(true);
    strict.child.kill('SIGTERM');
    lenient.child.kill('SIGTERM');
  });

  it('refuses to start on a bad flag or a key that is not the certificate’s, in one line, without the key', async () => {
    const a = serverCertificate('mismatch-a');
    const b = serverCertificate('mismatch-b');
    const bad = cli(['server', '--data-dir', join(dir, 'bad'), '--tls-cert', a.cert, '--tls-key', b.key, '--tls-min-version', '1.1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--tls-min-version: expected 1.2 or 1.3');
    const port = await freePort();
    const mismatch = cli(
      ['server', '--data-dir', join(dir, 'bad'), '--listen', `127.0.0.1:${port}`, '--tls-cert', a.cert, '--tls-key', b.key],
      {
        KEYWARD_WORKERS: '1',
      },
    );
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toContain('is not the key of the certificate');
    expect(mismatch.stderr).not.toContain('PRIVATE KEY');
  });
});

describe('TLS reload on SIGHUP', () => {
  it('open connections keep working; new ones get the new certificate; a broken one is refused and logged, the old kept', async () => {
    const first = serverCertificate('reload-first');
    const cert = join(dir, 'live.crt');
    const key = join(dir, 'live.key');
    writeFileSync(cert, readFileSync(first.cert));
    writeFileSync(key, readFileSync(first.key));
    const server = await startServer(['--tls-cert', cert, '--tls-key', key]);
    const second = serverCertificate('reload-second');
    // One CA file trusting both certificates, so the client accepts either.
    const both = join(dir, 'both.crt');
    writeFileSync(both, `${readFileSync(first.cert, 'utf8')}${readFileSync(second.cert, 'utf8')}`);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await call(server.port, 'GET', '/v1/auth/self', { bearer: token, agent: keepAlive, ca: both });
    expect(before.status).toBe(200);
    expect(before.fingerprint).toBe(fingerprintOf(first.cert));

    writeFileSync(cert, readFileSync(second.cert));
    writeFileSync(key, readFileSync(second.key));
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('TLS certificate reloaded'));
    const sameConnection = await call(server.port, 'GET', '/v1/auth/self', { bearer: token, agent: keepAlive, ca: both });
    expect(sameConnection.status).toBe(200);
    expect(sameConnection.localPort).toBe(before.localPort);
    expect(sameConnection.fingerprint).toBe(fingerprintOf(first.cert));
    const fresh = await call(server.port, 'GET', '/v1/auth/self', { bearer: token, ca: both });
    expect(fresh.status).toBe(200);
    expect(fresh.fingerprint).toBe(fingerprintOf(second.cert));

    // A key that is not the certificate's: refused, logged, the second certificate stays.
    writeFileSync(key, readFileSync(first.key));
    server.child.kill('SIGHUP');
    await waitFor(() => server.output().includes('TLS certificate refused'));
    const kept = await call(server.port, 'GET', '/v1/auth/self', { bearer: token, ca: both });
    expect(kept.status).toBe(200);
    expect(kept.fingerprint).toBe(fingerprintOf(second.cert));
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toContain('PRIVATE KEY');
    keepAlive.destroy();
    server.child.kill('SIGTERM');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(condition()).toBe(true);
}

describe('mutual TLS with keyward pki certificates', () => {
  const ca = join(dir, 'ca');
  const foreign = join(dir, 'foreign');
  let server: Server;
  let tls: { cert: string; key: string };
  const admin = (method: string, path: string, body?: unknown) => call(server.port, method, path, { bearer: token, body, ca: tls.cert });
  const asCert = (id: string, method: string, path: string, body?: unknown, base = ca) =>
    call(server.port, method, path, { cert: join(base, `${id}.crt`), key: join(base, `${id}.key`), body, ca: tls.cert });
  const cliEnv = () => ({ KEYWARD_ADDR: `https://127.0.0.1:${server.port}`, KEYWARD_TOKEN: token, NODE_EXTRA_CA_CERTS: tls.cert });

  beforeAll(async () => {
    tls = serverCertificate('mtls');
    expect(cli(['pki', 'init', '--dir', ca]).status).toBe(0);
    expect(cli(['pki', 'init', '--dir', foreign]).status).toBe(0);
    server = await startServer(['--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-client-ca', join(ca, 'ca.crt')]);
    for (const [id, roles] of [
      ['svc-billing', ['key-user']],
      ['svc-gone', ['key-user']],
      ['svc-stale', ['key-user']],
    ] as const) {
      expect((await admin('POST', '/v1/principals', { id, kind: 'service', roles })).status).toBe(201);
    }
    expect((await admin('POST', '/v1/keys', { name: 'payments', algorithm: 'aes-256-gcm', owner: 'team-payments' })).status).toBe(201);
    expect((await admin('POST', '/v1/keys/payments/grants', { principal: 'svc-billing', operations: ['encrypt'] })).status).toBe(201);
  });

  it('pki issue writes 0600 keys, signs with the CA (openssl verify), and registers the identity through the API', async () => {
    const issued = cli(['pki', 'issue', '--dir', ca, '--principal', 'svc-billing', '--dns', 'billing.internal'], cliEnv());
    expect(issued.status, issued.stderr).toBe(0);
    for (const file of ['ca.key', 'svc-billing.key']) expect(statSync(join(ca, file)).mode & 0o777).toBe(0o600);
    expect(execFileSync('openssl', ['verify', '-CAfile', join(ca, 'ca.crt'), join(ca, 'svc-billing.crt')]).toString()).toContain(': OK');
    const text = execFileSync('openssl', ['x509', '-in', join(ca, 'svc-billing.crt'), '-noout', '-text']).toString();
    expect(text).toContain('URI:spiffe://keyward/svc-billing');
    expect(text).toContain('TLS Web Client Authentication');
    const caText = execFileSync('openssl', ['x509', '-in', join(ca, 'ca.crt'), '-noout', '-text']).toString();
    expect(caText).toMatch(/CA:TRUE/);
    expect(caText).toContain('Certificate Sign');
    expect((await admin('GET', '/v1/principals/svc-billing')).body.tlsIdentities).toEqual([
      'dns:billing.internal',
      'uri:spiffe://keyward/svc-billing',
    ]);
    // The CA key is never overwritten.
    const again = cli(['pki', 'init', '--dir', ca]);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('exists');
  });

  it('a mapped certificate authenticates on every endpoint instead of a token, audited as the principal via mtls', async () => {
    const self = await asCert('svc-billing', 'GET', '/v1/auth/self');
    expect(self.status, JSON.stringify(self.body)).toBe(200);
    expect(self.body.principal).toMatchObject({
      id: 'svc-billing',
      tlsIdentities: ['dns:billing.internal', 'uri:spiffe://keyward/svc-billing'],
    });
    const encrypted = await asCert('svc-billing', 'POST', '/v1/keys/payments/encrypt', {
      plaintext: Buffer.from('card').toString('base64'),
    });
    expect(encrypted.status, JSON.stringify(encrypted.body)).toBe(200);
    expect(encrypted.body.keyVersion).toBe(1);
    // Authorization is the principal's: no grant to decrypt.
    const decrypt = await asCert('svc-billing', 'POST', '/v1/keys/payments/decrypt', { ciphertext: encrypted.body.ciphertext });
    expect(decrypt.status).toBe(403);
    // Beside a token of another principal: refused, not mixed.
    const mixed = await call(server.port, 'GET', '/v1/auth/self', {
      cert: join(ca, 'svc-billing.crt'),
      key: join(ca, 'svc-billing.key'),
      bearer: token,
      ca: tls.cert,
    });
    expect(mixed.status).toBe(401);
    expect(mixed.body.error.message).toBe('the client certificate and the bearer token name different principals');
    // Tokens still work without a certificate.
    expect((await admin('GET', '/v1/auth/self')).body.principal.id).toBe('admin');

    const records = await admin('GET', '/v1/audit/events?principal=svc-billing');
    const list = (records.body.records ?? records.body.events) as Array<Record<string, any>>;
    const encrypt = list.find((r) => r.action === 'crypto.encrypt');
    expect(encrypt).toMatchObject({ actor: 'svc-billing', outcome: 'success' });
    expect(encrypt?.details.via).toBe('mtls');
    const pem = readFileSync(join(ca, 'svc-billing.crt'), 'utf8').split('\n')[1] as string;
    expect(JSON.stringify(records.body)).not.toContain(pem);
    expect(server.output()).not.toContain(pem);
  });

  it('refuses a certificate of another CA, an expired one, an unmapped one and one of a disabled principal: 401, audited', async () => {
    expect(cli(['pki', 'issue', '--dir', foreign, '--principal', 'svc-billing', '--no-register']).status).toBe(0);
    const other = await asCert('svc-billing', 'GET', '/v1/auth/self', undefined, foreign);
    expect(other.status).toBe(401);
    expect(other.body.error.code).toBe('unauthenticated');
    expect(other.body.error.message).toMatch(/^the client certificate is not issued by a trusted client CA/);

    // Issued by the right CA, registered, but its validity is over.
    const caPem = { cert: readFileSync(join(ca, 'ca.crt'), 'utf8'), key: readFileSync(join(ca, 'ca.key'), 'utf8') };
    const now = Date.now();
    const expired = await issueClientCertificate({
      ca: caPem,
      commonName: 'svc-stale',
      uris: ['spiffe://keyward/svc-stale'],
      dnsNames: [],
      notBefore: new Date(now - 10 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    });
    writeFileSync(join(ca, 'svc-stale.crt'), expired.cert);
    writeFileSync(join(ca, 'svc-stale.key'), expired.key, { mode: 0o600 });
    expect((await admin('PATCH', '/v1/principals/svc-stale', { tlsIdentities: ['uri:spiffe://keyward/svc-stale'] })).status).toBe(200);
    const stale = await asCert('svc-stale', 'GET', '/v1/auth/self');
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toBe('the client certificate has expired');

    expect(cli(['pki', 'issue', '--dir', ca, '--principal', 'svc-nobody', '--no-register']).status).toBe(0);
    const unmapped = await asCert('svc-nobody', 'GET', '/v1/auth/self');
    expect(unmapped.status).toBe(401);
    expect(unmapped.body.error.message).toBe('the client certificate is not registered to any principal');

    expect(cli(['pki', 'issue', '--dir', ca, '--principal', 'svc-gone'], cliEnv()).status).toBe(0);
    expect((await asCert('svc-gone', 'GET', '/v1/auth/self')).status).toBe(200);
    expect((await admin('POST', '/v1/principals/svc-gone/offboard', { reassignTo: 'admin' })).status).toBe(200);
    const gone = await asCert('svc-gone', 'GET', '/v1/auth/self');
    expect(gone.status).toBe(401);
    expect(gone.body.error.message).toBe('the principal is disabled');

    // A removed identity stops working at once.
    expect((await admin('PATCH', '/v1/principals/svc-billing', { tlsIdentities: ['dns:billing.internal'] })).status).toBe(200);
    expect((await asCert('svc-billing', 'GET', '/v1/auth/self')).status).toBe(200); // still named by its DNS SAN
    expect((await admin('PATCH', '/v1/principals/svc-billing', { tlsIdentities: [] })).status).toBe(200);
    expect((await asCert('svc-billing', 'GET', '/v1/auth/self')).status).toBe(401);

    const refused = await admin('GET', '/v1/audit/events?action=auth.self&outcome=denied');
    const denied = (refused.body.records ?? refused.body.events) as Array<Record<string, any>>;
    expect(denied.length).toBeGreaterThanOrEqual(5);
    for (const record of denied) expect(record).toMatchObject({ errorCode: 'unauthenticated', details: { via: 'mtls' } });
    const fingerprint = createHash('sha256')
      .update(readFileSync(join(ca, 'svc-nobody.crt')))
      .digest('hex');
    expect(JSON.stringify(refused.body)).not.toContain(fingerprint);
  });
});
