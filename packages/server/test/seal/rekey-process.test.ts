import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeywardClient } from '@keyward/client';
import { describe, expect, it } from 'vitest';
import { freePort, KEYWARD_BIN, spawnKeyward, stop, waitForHealth } from '../support/processes.js';
import { useTempDirs } from './temp-dir.js';

/** The whole procedure as an operator runs it: server, stop, rekey, server again (needs `npm run build`). */
const tempDir = useTempDirs('rekey-process');
const text = (s: string) => new TextEncoder().encode(s);

/** The server on the data dir's SQLite file, whatever KEYWARD_DATABASE_URL the environment holds. */
async function start(dataDir: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const server = spawnKeyward(['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
    KEYWARD_DATABASE_URL: undefined,
    KEYWARD_WORKERS: '1',
  });
  const url = `http://127.0.0.1:${port}`;
  // 30 s: 300 polls of 100 ms.
  await waitForHealth(server, url, 30_000);
  return { url, child: server.child, output: server.output };
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
