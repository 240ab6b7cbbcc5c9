import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksCache, KeywardApiError, KeywardClient, KeywardConnectionError } from '../src/index.js';
import { KEYWARD_BIN } from './support/server.js';

/**
 * The SDK against a real server in certificate-only mode
 * (`--tls-client-auth required`, docs/operations.md): it authenticates with
 * `tls: { cert, key, ca }` and no token, trusted refresh works over it, and
 * a token is refused. Certificates from `keyward pki` and openssl.
 */

const dir = mkdtempSync(join(tmpdir(), 'kw-sdk-mtls-only-'));
const token = `kw_test_${'4d'.repeat(20)}`;
const children: ChildProcess[] = [];
const read = (name: string) => readFileSync(join(dir, name), 'utf8');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function start(args: string[]): Promise<{ address: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const child = spawn(KEYWARD_BIN, ['server', '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, KEYWARD_INIT_ADMIN_TOKEN: token, KEYWARD_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline && !output.includes('keyward listening') && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!output.includes('keyward listening')) throw new Error(`server did not start: ${output}`);
  return { address: `https://127.0.0.1:${port}`, child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('the SDK against a certificate-only server', () => {
  let address: string;
  let output: () => string;
  const ca = () => read('server.crt');
  const asPrincipal = (id: string) =>
    new KeywardClient({ address, tls: { cert: read(`ca/${id}.crt`), key: read(`ca/${id}.key`), ca: ca() } });

  beforeAll(async () => {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'server.key'),
        '-out',
        join(dir, 'server.crt'),
      ]),
      { stdio: 'ignore' },
    );
    const pki = (...args: string[]) => {
      const r = spawnSync(KEYWARD_BIN, ['pki', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
    };
    pki('init', '--dir', join(dir, 'ca'));
    for (const id of ['admin', 'svc-verifier']) pki('issue', '--dir', join(dir, 'ca'), '--principal', id, '--no-register');
    const tls = ['--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key'), '--tls-client-ca', join(dir, 'ca', 'ca.crt')];

    // Set up with the token while tokens still work, then restart certificate-only.
    const setup = await start(tls);
    const admin = new KeywardClient({ address: setup.address, token, tls: { ca: ca() } });
    await admin.patchPrincipal('admin', { tlsIdentities: ['uri:spiffe://keyward/admin'] });
    await admin.createPrincipal({
      id: 'svc-verifier',
      kind: 'service',
      roles: ['auditor'],
      tlsIdentities: ['uri:spiffe://keyward/svc-verifier'],
    });
    await admin.createKey({ name: 'release', algorithm: 'ed25519', owner: 'team-release' });
    await stop(setup.child);
    ({ address, output } = await start([...tls, '--tls-client-auth', 'required']));
  });

  afterAll(async () => {
    for (const child of children) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates by certificate alone', async () => {
    await expect(asPrincipal('svc-verifier').self()).resolves.toMatchObject({ principal: { id: 'svc-verifier' } });
    await expect(asPrincipal('svc-verifier').health()).resolves.toMatchObject({ sealed: false });
  });

  it('a token beside the certificate is refused with 401 unauthenticated; without a certificate there is no connection', async () => {
    const both = new KeywardClient({ address, token, tls: { cert: read('ca/admin.crt'), key: read('ca/admin.key'), ca: ca() } });
    const refused = await both.getKey('release').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeywardApiError);
    expect(refused).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect((refused as Error).message).not.toContain(token);

    const tokenOnly = new KeywardClient({ address, token, tls: { ca: ca() }, retries: 0 });
    const unreachable = await tokenOnly.getKey('release').catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(KeywardConnectionError);
    expect((unreachable as Error).message).not.toContain(token);
    expect(output()).not.toContain(token);
  });

  it('trusted refresh works over mutual TLS: an auditor’s cache sees a rotation made by the admin', async () => {
    const admin = asPrincipal('admin');
    let rotatedKid = '';
    let resolveSeen!: () => void;
    const seen = new Promise<void>((resolve) => {
      resolveSeen = resolve;
    });
    const cache = new JwksCache(asPrincipal('svc-verifier'), {
      keys: ['release'],
      onChange: (change) => {
        if (rotatedKid !== '' && change.kids.includes(rotatedKid)) resolveSeen();
      },
    });
    await cache.start();
    try {
      const key = await admin.rotateKey('release');
      rotatedKid = `${key.id}:2`;
      if (cache.jwk(rotatedKid) === undefined) {
        // A safety net so a broken stream fails the test instead of hanging it; a passing run never waits on it.
        const timer = setTimeout(() => resolveSeen(), 20_000);
        await seen;
        clearTimeout(timer);
      }
      expect(cache.jwk(rotatedKid)).toBeDefined();
      // Delivered by the stream it opened, not by a reconnect (the server's heartbeat re-check keeps an mTLS stream open).
      expect(cache.connections).toBe(1);
      const message = new TextEncoder().encode('v2');
      const { signature } = await admin.sign('release', { message });
      await expect(cache.verifySignature('release', { message, signature })).resolves.toEqual({ valid: true, keyVersion: 2 });
    } finally {
      cache.close();
    }
  });
});
