import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, useProcesses, waitForHealth } from './support/processes.js';

const processes = useProcesses({ prefix: 'kw-proc-' });
const tempDir = () => processes.tempDir();
const run = (args: string[], env: Record<string, string> = {}) => processes.spawn(['server', ...args], env);

describe('keyward server (the process)', () => {
  it('initializes a new data dir, serves, logs one JSON line per request at debug without secrets, exits 0 on SIGTERM, and keeps keys across restarts', async () => {
    const dir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'a1'.repeat(20)}`;
    const first = run(['--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--log-level', 'debug'], {
      KEYWARD_INIT_ADMIN_TOKEN: token,
    });
    await waitForHealth(first, url);
    expect(statSync(join(dir, 'root.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(token);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'survivor', algorithm: 'aes-256-gcm', owner: 'o' }),
    });
    expect(created.status).toBe(201);
    const plaintext = Buffer.from('process-level-secret').toString('base64');
    const enc = (await (
      await fetch(`${url}/v1/keys/survivor/encrypt`, { method: 'POST', headers, body: JSON.stringify({ plaintext }) })
    ).json()) as {
      ciphertext: string;
    };
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const lines = first.stdout().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.filter((l) => JSON.parse(l).msg === 'request')).toHaveLength(3);
    expect(first.stdout()).not.toContain(token);
    expect(first.stdout()).not.toContain(plaintext);

    const second = run(['--data-dir', dir, '--listen', `127.0.0.1:${port}`]);
    await waitForHealth(second, url);
    const dec = await fetch(`${url}/v1/keys/survivor/decrypt`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ciphertext: enc.ciphertext }),
    });
    expect(((await dec.json()) as { plaintext: string }).plaintext).toBe(plaintext);
    const refused = await fetch(`${url}/v1/keys/survivor/decrypt`, {
      method: 'POST',
      headers: { ...headers, authorization: 'Bearer kw_not-a-token' },
      body: JSON.stringify({ ciphertext: enc.ciphertext }),
    });
    expect(refused.status).toBe(401);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    // At the default level (info) a successful request leaves no line; a refused one does, with its request id.
    const logged = second
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request');
    expect(logged).toEqual([
      expect.objectContaining({
        level: 30,
        requestId: refused.headers.get('x-request-id'),
        route: '/v1/keys/:name/decrypt',
        status: 401,
      }),
    ]);
  });

  it('refuses a bad flag with exit 2 and one line', async () => {
    const r = run(['--data-dir', tempDir(), '--bogus']);
    expect(await r.exit).toBe(2);
    expect(r.stderr().trim().split('\n')).toHaveLength(1);
    expect(r.stderr()).toMatch(/^keyward server: .*bogus/);
  });

  it('refuses a BYOK wrapping key rotation outside 1h to 365d with exit 2', async () => {
    for (const value of ['30m', '366d', 'weekly']) {
      const r = run(['--data-dir', tempDir(), '--import-wrapping-key-rotation', value]);
      expect(await r.exit).toBe(2);
      expect(r.stderr()).toMatch(
        new RegExp(`--import-wrapping-key-rotation: expected a duration from 1h to 365d such as 7d, got '${value}'`),
      );
    }
  });

  it('refuses plain HTTP on a non-loopback address', async () => {
    const r = run(['--data-dir', tempDir(), '--listen', '0.0.0.0:8201']);
    expect(await r.exit).toBe(2);
    expect(r.stderr()).toMatch(/refusing to serve plain HTTP on non-loopback address 0\.0\.0\.0/);
  });

  it('refuses an unusable data directory with exit 1', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const r = run(['--data-dir', join(file, 'data')]);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toMatch(/^keyward server: cannot use data directory/);
  });

  it('refuses a root key file readable by others', async () => {
    const dir = tempDir();
    const port = await freePort();
    const first = run(['--data-dir', dir, '--listen', `127.0.0.1:${port}`]);
    await waitForHealth(first, `http://127.0.0.1:${port}`);
    first.child.kill('SIGTERM');
    await first.exit;
    chmodSync(join(dir, 'root.key'), 0o644);
    const second = run(['--data-dir', dir, '--listen', `127.0.0.1:${port}`]);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toContain(join(dir, 'root.key'));
    expect(second.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('refuses a database it cannot open', async () => {
    const r = run(['--data-dir', tempDir(), '--database-url', 'postgres://postgres@127.0.0.1:1/none']);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toMatch(/^keyward server: cannot open the database/);
  });

  it('serves TLS 1.3 with --tls-cert and --tls-key', async () => {
    const dir = tempDir();
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
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
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const port = await freePort();
    const r = run(['--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key]);
    const ca = readFileSync(cert);
    const get = () =>
      new Promise<{ status: number; protocol: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/sys/health', ca }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, protocol: (res.socket as import('node:tls').TLSSocket).getProtocol() ?? '' });
        });
        req.on('error', reject);
        req.end();
      });
    let answer: { status: number; protocol: string } | null = null;
    const deadline = Date.now() + 45_000;
    while (answer === null && Date.now() < deadline) {
      answer = await get().catch(() => null);
      if (answer === null) await new Promise((res) => setTimeout(res, 100));
    }
    expect(answer).toEqual({ status: 200, protocol: 'TLSv1.3' });
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    expect(existsSync(join(dir, 'data', 'keyward.db'))).toBe(true);
  });

  it('keeps the audit chain in a file sink under its node id, with checkpoints, and refuses a file from another database', async () => {
    const dir = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'b2'.repeat(20)}`;
    const file = join(dir, 'audit.jsonl');
    const args = [
      '--data-dir',
      dir,
      '--listen',
      `127.0.0.1:${port}`,
      '--workers',
      '1',
      '--node-id',
      'edge-1',
      '--audit-file',
      file,
      '--audit-checkpoint-records',
      '3',
    ];
    const first = run(args, { KEYWARD_INIT_ADMIN_TOKEN: token });
    await waitForHealth(first, url);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${url}/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
    }
    const verify = await fetch(`${url}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
    const report = (await verify.json()) as { valid: boolean; chains: Array<{ chain: string }>; file: { valid: boolean } };
    expect(report.valid).toBe(true);
    expect(report.chains.map((c) => c.chain)).toEqual(['edge-1']);
    expect(report.file.valid).toBe(true);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; chain?: string });
    expect(lines.filter((l) => l.type === 'record').every((l) => l.chain === 'edge-1')).toBe(true);
    expect(lines.some((l) => l.type === 'checkpoint')).toBe(true);
    expect(readFileSync(file, 'utf8')).not.toContain(token);

    // The same file against a new, empty database: refused with one line.
    const other = tempDir();
    const second = run([
      '--data-dir',
      other,
      '--listen',
      `127.0.0.1:${port}`,
      '--workers',
      '1',
      '--node-id',
      'edge-1',
      '--audit-file',
      file,
    ]);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toMatch(
      /^keyward server: cannot use audit file .*audit\.jsonl: .*ahead of|^keyward server: cannot use audit file .*holds chain/,
    );
    expect(second.stderr().trim().split('\n')).toHaveLength(1);

    const bad = run(['--data-dir', tempDir(), '--node-id', 'no spaces']);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toMatch(/^keyward server: --node-id: expected/);
  });
});
