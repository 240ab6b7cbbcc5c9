import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { KeywardClient } from '@keyward/client';
import { describe, expect, it } from 'vitest';
import { KEYWARD_BIN } from '../../../sdk/test/support/server.js';
import { useTempDirs } from './temp-dir.js';

/** The whole procedure as an operator runs it: server, stop, rekey, server again (needs `npm run build`). */
const tempDir = useTempDirs('rekey-process');
const text = (s: string) => new TextEncoder().encode(s);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function start(dataDir: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const { KEYWARD_DATABASE_URL: _, ...env } = process.env;
  const child = spawn(KEYWARD_BIN, ['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
    env: { ...env, KEYWARD_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${output}`);
    const ok = await fetch(`${url}/v1/sys/health`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return { url, child, output: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer: ${output}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('keyward operator rekey on a stopped file-sealed server', () => {
  it('old ciphertexts decrypt, the audit trail (with its checkpoint signature) verifies, root.key is a new key', async () => {
    const dataDir = await tempDir();
    let server = await start(dataDir);
    const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    let admin = new KeywardClient({ address: server.url, token });
    await admin.createKey({ name: 'orders', algorithm: 'aes-256-gcm', owner: 'team-a' });
    const { ciphertext } = await admin.encrypt('orders', text('before the rekey'));
    await admin.auditCheckpoint();
    await stop(server.child);
    const oldRoot = await readFile(join(dataDir, 'root.key'));

    const { KEYWARD_DATABASE_URL: _, ...env } = process.env;
    const rekey = spawnSync(process.execPath, [KEYWARD_BIN, 'operator', 'rekey', '--data-dir', dataDir, '--json'], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect(rekey.stderr).toBe('');
    expect(rekey.status).toBe(0);
    const report = JSON.parse(rekey.stdout) as { resumed: boolean; rewrapped: number };
    // One namespace KEK, the audit salt and the audit signing key.
    expect(report).toMatchObject({ resumed: false, rewrapped: 3 });
    expect((await readFile(join(dataDir, 'root.key'))).equals(oldRoot)).toBe(false);
    expect(existsSync(join(dataDir, 'root.key.new'))).toBe(false);

    server = await start(dataDir);
    try {
      admin = new KeywardClient({ address: server.url, token });
      expect(new TextDecoder().decode((await admin.decrypt('orders', ciphertext)).plaintext)).toBe('before the rekey');
      await admin.auditCheckpoint();
      const audit = await admin.verifyAudit();
      expect(audit.valid).toBe(true);
      expect(server.output()).not.toContain(token);
    } finally {
      await stop(server.child);
    }
  });
});
