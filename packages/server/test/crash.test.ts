import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, KEYWARD_BIN, stop } from './support/processes.js';
import { freshStore, type TestStore } from './support/stores.js';

/**
 * A server killed (SIGKILL) in the middle of a scheduled rotation run must
 * leave every key consistent: each rotation is one transaction. Two workers,
 * killed together with their primary.
 */
const TOKEN = `kw_crash_${'c'.repeat(40)}`;
const children: ChildProcess[] = [];
let store: TestStore;
let dir = mkdtempSync(join(tmpdir(), 'kw-crash-'));

afterAll(async () => {
  for (const c of children) {
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }
  await store?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function start(port: number): Promise<ChildProcess> {
  const args = ['server', '--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--scheduler-interval', '1s', '--workers', '2'];
  if (store.kind === 'postgres') args.push('--database-url', store.location);
  // Its own process group (not spawnKeyward), so the crash below kills the primary and its workers at once, as a power cut would.
  const child = spawn(KEYWARD_BIN, args, { env: { ...process.env, KEYWARD_INIT_ADMIN_TOKEN: TOKEN }, stdio: 'ignore', detached: true });
  children.push(child);
  await until(async () => (await fetch(`http://127.0.0.1:${port}/v1/sys/health`).catch(() => null))?.status === 200);
  return child;
}

async function until(condition: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const rotations = async () => Number((await store.raw("SELECT count(*) AS n FROM audit_events WHERE action = 'key.rotate'"))[0]?.n);

describe('a crash during a scheduled rotation', () => {
  it('leaves every key consistent on restart, and each due key rotates exactly once', async () => {
    store = await freshStore();
    // SQLite: the server opens the test store's own file (DATA/keyward.db).
    if (store.kind === 'sqlite') {
      rmSync(dir, { recursive: true, force: true });
      dir = store.dataDir;
    }
    const port = await freePort();
    let server = await start(port);
    const names = Array.from({ length: 16 }, (_, i) => `crash-${i}`);
    for (const name of names) {
      const r = await fetch(`http://127.0.0.1:${port}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, algorithm: 'rsa-pss-3072', owner: 'o', rotationPeriod: '1d' }),
      });
      expect(r.status).toBe(201);
    }
    // Make every key due now; RSA key generation makes the scheduler's run long enough to interrupt.
    await store.raw("UPDATE keys SET next_rotation_at = '2000-01-01T00:00:00.000Z', next_check_at = '2000-01-01T00:00:00.000Z'");
    await until(async () => (await rotations()) >= 1);
    const exited = new Promise((r) => server.once('exit', r));
    process.kill(-(server.pid as number), 'SIGKILL');
    await exited;
    // The workers die with it; the next server needs the port once the kernel has closed their sockets.
    await until(async () => (await fetch(`http://127.0.0.1:${port}/v1/sys/health`).catch(() => null)) === null);
    const before = await rotations();
    expect(before).toBeLessThan(names.length);

    server = await start(port);
    await until(async () => (await rotations()) >= names.length);
    await stop(server);

    const keys = await store.raw('SELECT id, name, primary_version, next_rotation_at FROM keys');
    expect(keys).toHaveLength(names.length);
    for (const key of keys) {
      const versions = await store.raw('SELECT version, state, material FROM key_versions WHERE key_id = ? ORDER BY version', [key.id]);
      expect(
        versions.map((v) => Number(v.version)),
        String(key.name),
      ).toEqual([1, 2]);
      expect(Number(key.primary_version)).toBe(2);
      for (const v of versions) {
        expect(v.state).toBe('active');
        expect(v.material).not.toBeNull();
      }
      expect(String(key.next_rotation_at) > '2001').toBe(true);
      const events = await store.raw("SELECT count(*) AS n FROM events WHERE key_id = ? AND type = 'key.rotated'", [key.id]);
      expect(Number(events[0]?.n)).toBe(1);
    }
    expect(await rotations()).toBe(names.length);
  });
});
