import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, ClusterRun, freePort, until } from './cluster-process.js';

/** Starting and failing: one line from the primary, never one per worker; a crash loop ends the server. */
const dirs: string[] = [];
const runs: ClusterRun[] = [];

afterEach(() => {
  for (const r of runs.splice(0)) r.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kw-workers-'));
  dirs.push(dir);
  return dir;
}

async function start(args: string[]): Promise<ClusterRun> {
  const port = await freePort();
  const run = new ClusterRun(['--listen', `127.0.0.1:${port}`, ...args], port, { KEYWARD_INIT_ADMIN_TOKEN: ADMIN });
  runs.push(run);
  return run;
}

describe('keyward server --workers', () => {
  it('refuses a bad --workers with exit 2 and one line', async () => {
    for (const bad of ['0', '65', 'two', '1.5']) {
      const run = await start(['--data-dir', tempDir(), '--workers', bad]);
      expect(await run.exit).toBe(2);
      expect(run.stderr()).toBe(`keyward server: --workers: expected a whole number from 1 to 64, got '${bad}'\n`);
    }
    const long = await start(['--data-dir', tempDir(), '--workers', '2', '--node-id', 'n'.repeat(62)]);
    expect(await long.exit).toBe(2);
    expect(long.stderr()).toMatch(/^keyward server: --node-id: '.*' is too long for 2 workers/);
  });

  it('a worker that cannot start stops the server: exit 1, one line, from the primary', async () => {
    const dir = tempDir();
    const run = await start(['--data-dir', dir, '--workers', '2', '--audit-file', join(dir, 'missing', 'audit.jsonl')]);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/^keyward server: cannot use audit file .*missing\/audit-w[12]\.jsonl: /);
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('an unusable data directory is refused by the primary before any worker starts', async () => {
    const file = join(tempDir(), 'file');
    await import('node:fs').then((fs) => fs.writeFileSync(file, 'x'));
    const run = await start(['--data-dir', join(file, 'data'), '--workers', '2']);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/^keyward server: cannot use data directory/);
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
    expect(run.stdout()).not.toContain('starting workers');
  });

  it('writes each worker’s audit file beside the others, and gives up on a worker that keeps dying', async () => {
    const dir = tempDir();
    const file = join(dir, 'audit.jsonl');
    const run = await start(['--data-dir', dir, '--workers', '2', '--node-id', 'edge', '--audit-file', file]);
    await run.serving();
    await run.onEveryWorker(() => run.call('GET', '/v1/keys'));
    const verify = await run.call('GET', '/v1/audit/verify');
    expect(verify.body.valid).toBe(true);
    expect(verify.body.file).toMatchObject({ path: join(dir, `audit-w${verify.worker}.jsonl`), valid: true });
    // Worker 2's file becomes unusable: every replacement fails to start, until the brake stops the server.
    rmSync(join(dir, 'audit-w2.jsonl'));
    mkdirSync(join(dir, 'audit-w2.jsonl'));
    process.kill(run.workerPids().get(2) as number, 'SIGKILL');
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(
      /^keyward server: workers keep exiting \(6 in a minute; the last, worker 2: cannot use audit file .*audit-w2\.jsonl/,
    );
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('--workers 1 runs one process, as before: no worker header, the chain is the node id', async () => {
    const run = await start(['--data-dir', tempDir(), '--workers', '1', '--node-id', 'solo']);
    await until(async () => (await run.call('GET', '/v1/sys/health', undefined, null)).status === 200, 'the server');
    const keys = await run.call('GET', '/v1/keys');
    expect(keys.worker).toBeNull();
    const verify = await run.call('GET', '/v1/audit/verify');
    expect(verify.body.chains.map((c: { chain: string }) => c.chain)).toEqual(['solo']);
    expect(run.stdout()).not.toContain('starting workers');
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });
});
