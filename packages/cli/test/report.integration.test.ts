import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const HEADER =
  'namespace,name,owner,class,environment,algorithm,state,primary_version,primary_age_days,next_rotation_at,last_used_at,next_review_at,findings,finding_details';

describe('keyward report against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  const run = (args: string[]) => keyward(args, { env });

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = mkdtempSync(join(tmpdir(), 'kw-cli-report-'));
    // One key owned by the admin (no finding), one by a team nobody belongs to (orphaned).
    for (const [name, owner] of [
      ['cli-owned', 'admin'],
      ['cli-orphan', 'team-nobody'],
    ] as const) {
      const created = await run(['key', 'create', name, '--algorithm', 'aes-256-gcm', '--owner', owner, '--class', 'low']);
      expect(created.code, created.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('report compliance --format csv prints the server CSV: a header row and one row per key with findings', async () => {
    const csv = await run(['report', 'compliance', '--format', 'csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.split('\r\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines[1]).toBe(
      "default,cli-orphan,team-nobody,low,prod,aes-256-gcm,enabled,1,0,,,,orphaned,orphaned: owner 'team-nobody' is neither a principal nor a team any principal belongs to",
    );
    expect(lines.slice(2)).toEqual(['']);

    const out = join(dir, 'compliance.csv');
    const written = await run(['report', 'compliance', '--format', 'csv', '--out', out]);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toBe('');
    expect(readFileSync(out, 'utf8').split('\r\n')[0]).toBe(HEADER);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('without --format: a table for people, the JSON answer under --json; markdown as the server renders it', async () => {
    const table = await run(['report', 'compliance']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^Keys examined: +2$/m);
    expect(table.stdout).toMatch(/^orphaned +1$/m);
    expect(table.stdout).toMatch(/^team-nobody +1 +1 +1 +-$/m);
    expect(table.stdout).toMatch(/^cli-orphan \(orphaned\): hand the key to an active owner/m);

    const json = JSON.parse((await run(['report', 'inventory', '--json'])).stdout);
    expect(json.keys.map((k: { name: string }) => k.name)).toEqual(['cli-orphan', 'cli-owned']);
    const filtered = JSON.parse((await run(['report', 'inventory', '--format', 'json', '--owner', 'admin'])).stdout);
    expect(filtered.keys.map((k: { name: string }) => k.name)).toEqual(['cli-owned']);

    const markdown = await run(['report', 'inventory', '--format', 'markdown']);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout.split('\n')[0]).toBe('# Key inventory');
    expect(markdown.stdout).toContain('| default | cli-owned | admin | low | prod | aes-256-gcm | enabled | 1 | 0 | - | - | - | - |');
  });

  it('a bad --format is a usage error (exit 2) and sends nothing', async () => {
    const bad = await run(['report', 'compliance', '--format', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format <format>' argument 'xml' is invalid/);
  });
});
