import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditCheckpointView, AuditLine, AuditRecordView, AuditVerifyReport } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { renderAuditEvents, renderAuditReport } from '../src/commands/audit-command.js';
import { buildCli, keyward } from './support/keyward-process.js';

interface EventList {
  events: AuditRecordView[];
  nextCursor: string | null;
}

const lines = (text: string): AuditLine[] =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditLine);

describe('keyward audit commands against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  const run = (args: string[], stdin?: string) => keyward(args, { env, ...(stdin === undefined ? {} : { stdin }) });
  const json = async <T>(args: string[]): Promise<T> => {
    const out = await run(['--json', ...args]);
    expect(out.code, out.stderr).toBe(0);
    return JSON.parse(out.stdout) as T;
  };
  /** Exports the trail and fetches the public key into `dir`; answers their paths. */
  const exportTrail = async (name: string): Promise<{ file: string; key: string }> => {
    const file = join(dir, name);
    const key = join(dir, `${name}.pem`);
    const exported = await run(['audit', 'export', '--out', file]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toBe('');
    expect(exported.stderr).toMatch(new RegExp(`^wrote \\d+ audit lines \\(\\d+ bytes\\) to ${file}\\n$`));
    const published = await run(['audit', 'public-key', '--out', key]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stderr).toMatch(/^audit key id: sha256:[0-9a-f]{64}\n$/);
    return { file, key };
  };

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    server.remember('acme-corp', 'a value only the auditor holds');
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = await mkdtemp(join(tmpdir(), 'keyward-cli-audit-'));
    expect((await run(['key', 'create', 'cli-audit', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    expect((await run(['key', 'create', 'cli-audit-other', '--algorithm', 'hmac-sha256', '--owner', 'team-cli'])).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      const encrypted = await run(['encrypt', '--key', 'cli-audit', '--context', 'tenant=acme-corp'], `row ${i}`);
      expect(encrypted.code, encrypted.stderr).toBe(0);
    }
    expect((await run(['encrypt', '--key', 'cli-audit'], 'no context')).code).toBe(0);
    expect((await run(['key', 'show', 'cli-audit-missing'])).code).toBe(3);
  }, 120_000);
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await server?.stop();
  });

  it('audit verify: the live trail is valid, as a summary and as JSON', async () => {
    const table = await run(['audit', 'verify']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /^Result: +valid\nChains: +1\nRecords: +\d+\nCheckpoints: +\d+\nLatest checkpoint: +\S+\n\nCHAIN +RECORDS/,
    );
    const report = await json<AuditVerifyReport>(['audit', 'verify']);
    expect(report).toMatchObject({ valid: true, problem: null });
    expect(report.chains).toHaveLength(1);
    expect(report.chains[0]?.records).toBeGreaterThanOrEqual(7);
  });

  it('audit export --out writes a 0600 file that verifies offline with the public key, leaving no partial file', async () => {
    const { file, key } = await exportTrail('trail.ndjson');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((name) => name.includes('.partial'))).toEqual([]);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(server.token);
    expect(text).not.toContain('acme-corp');
    const parsed = lines(text);
    expect(parsed[0]).toMatchObject({ type: 'export', version: 1 });
    expect(parsed[1]?.type).toBe('checkpoint');
    const records = parsed.filter((l) => l.type === 'record');

    const offline = await run(['audit', 'verify', '--file', file, '--public-key', key]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/^Result: +valid\n/);
    const report = await json<AuditVerifyReport>(['audit', 'verify', '--file', file, '--public-key', key]);
    expect(report).toMatchObject({ valid: true, problem: null, checkpoints: parsed.filter((l) => l.type === 'checkpoint').length });
    expect(report.chains.reduce((n, c) => n + c.records, 0)).toBe(records.length);
    // The export's checkpoint covers every record in it.
    expect(report.chains[0]?.checkpointedSeq).toBe((records.at(-1) as AuditRecordView).seq);
  });

  it('offline verify names the chain and the first bad record of an edited export, and exits 3', async () => {
    const { file, key } = await exportTrail('edited.ndjson');
    const original = (await readFile(file, 'utf8')).split('\n');
    const at = original.findIndex((line, i) => i > 1 && line.includes('"type":"record"') && line.includes('"action":"crypto.encrypt"'));
    const record = JSON.parse(original[at] as string) as AuditRecordView;
    expect(record.actor).toBe('admin');
    original[at] = JSON.stringify({ ...record, actor: 'mallory' });
    const edited = join(dir, 'edited-bad.ndjson');
    await writeFile(edited, original.join('\n'));

    const out = await run(['audit', 'verify', '--file', edited, '--public-key', key]);
    expect(out.code).toBe(3);
    expect(out.stdout).toMatch(/^Result: +INVALID\n/);
    expect(out.stdout).toMatch(/\nProblem: +altered\n/);
    expect(out.stdout).toContain(`\nChain:              ${record.chain}\n`);
    expect(out.stdout).toContain(`\nFirst bad record:   ${record.seq}\n`);
    const report = (await run(['--json', 'audit', 'verify', '--file', edited, '--public-key', key])).stdout;
    expect((JSON.parse(report) as AuditVerifyReport).problem).toMatchObject({ kind: 'altered', chain: record.chain, seq: record.seq });
  });

  it('offline verify: an export cut short is truncated; --file-sink does not require every chain a checkpoint names', async () => {
    const { file, key } = await exportTrail('cut.ndjson');
    const kept = (await readFile(file, 'utf8')).split('\n').filter((line) => !line.includes('"type":"record"'));
    const cut = join(dir, 'cut-short.ndjson');
    await writeFile(cut, kept.join('\n'));
    const asExport = await run(['--json', 'audit', 'verify', '--file', cut, '--public-key', key]);
    expect(asExport.code).toBe(3);
    expect((JSON.parse(asExport.stdout) as AuditVerifyReport).problem).toMatchObject({ kind: 'truncated', seq: 1 });
    const asSink = await run(['--json', 'audit', 'verify', '--file', cut, '--public-key', key, '--file-sink']);
    expect(asSink.code, asSink.stdout).toBe(0);
  });

  it('offline verify refuses a missing file, stdin, a key that is not an Ed25519 PEM, and flags without --file (exit 2)', async () => {
    const { file, key } = await exportTrail('usage.ndjson');
    const missing = await run(['audit', 'verify', '--file', join(dir, 'nope'), '--public-key', key]);
    expect([missing.code, missing.stderr]).toEqual([2, `error: cannot read ${join(dir, 'nope')}: ENOENT\n`]);
    expect((await run(['audit', 'verify', '--file', '-', '--public-key', key])).code).toBe(2);
    const badKey = await run(['audit', 'verify', '--file', file, '--public-key', file]);
    expect([badKey.code, badKey.stderr]).toEqual([2, `error: --public-key ${file} is not an Ed25519 public key in PEM form\n`]);
    expect((await run(['audit', 'verify', '--file', file])).code).toBe(2);
    expect((await run(['audit', 'verify', '--public-key', key])).code).toBe(2);
    expect((await run(['audit', 'export'])).code).toBe(2); // --out is required
    expect((await run(['audit', 'export', '--out', join(dir, 'no-such-dir', 'x')])).code).toBe(2);
    // A refused export leaves neither the file nor a partial one behind.
    const refused = await keyward(['audit', 'export', '--out', join(dir, 'refused.ndjson')], {
      env: { ...env, KEYWARD_TOKEN: 'kw_not_a_valid_token_at_all' },
    });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: unauthenticated: /);
    expect((await readdir(dir)).filter((name) => name.includes('refused') || name.includes('.partial'))).toEqual([]);
  });

  it('audit export --out - streams the JSON lines to stdout', async () => {
    const out = await run(['audit', 'export', '--out', '-']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toBe('');
    const parsed = lines(out.stdout);
    expect(parsed[0]?.type).toBe('export');
    expect(parsed.filter((l) => l.type === 'record').length).toBeGreaterThanOrEqual(7);
  });

  it('audit events filters by key, action, outcome and time, pages, and prints a table', async () => {
    const encrypts = await json<EventList>(['audit', 'events', '--key', 'cli-audit', '--action', 'crypto.encrypt']);
    expect(encrypts.events).toHaveLength(4);
    for (const r of encrypts.events)
      expect([r.key, r.action, r.outcome, r.actor]).toEqual(['cli-audit', 'crypto.encrypt', 'success', 'admin']);
    const other = await json<EventList>(['audit', 'events', '--key', 'cli-audit-other']);
    expect(other.events.map((r) => r.action)).toEqual(['key.create']);
    const failed = await json<EventList>(['audit', 'events', '--outcome', 'error', '--all']);
    expect(failed.events.length).toBeGreaterThanOrEqual(1);
    expect(failed.events.every((r) => r.outcome === 'error')).toBe(true);
    expect(failed.events.map((r) => r.errorCode)).toContain('not_found');
    const versioned = await json<EventList>(['audit', 'events', '--key', 'cli-audit', '--version', '1', '--principal', 'admin']);
    expect(versioned.events.length).toBeGreaterThanOrEqual(5);

    const page = await run(['audit', 'events', '--key', 'cli-audit', '--limit', '2']);
    expect(page.code).toBe(0);
    expect(page.stdout.split('\n')[0]).toMatch(/^TIME +CHAIN +SEQ +ACTOR +ACTION +KEY +OUTCOME +SOURCE$/);
    expect(page.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(page.stdout).toMatch(/ admin +key\.create +default\/cli-audit v1 +success +/);
    expect(page.stderr).toMatch(/^more records: --cursor \d+ \(or --all\)\n$/);
    const all = await json<EventList>(['audit', 'events', '--key', 'cli-audit', '--limit', '2', '--all']);
    expect(all.nextCursor).toBeNull();
    expect(all.events.length).toBeGreaterThanOrEqual(5);
    const seqs = all.events.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // The namespace set for the CLI filters the trail.
    expect((await json<EventList>(['--namespace', 'elsewhere', 'audit', 'events', '--key', 'cli-audit'])).events).toEqual([]);
    expect((await json<EventList>(['--namespace', 'default', 'audit', 'events', '--key', 'cli-audit-other'])).events).toHaveLength(1);

    const future = await run(['audit', 'events', '--from', '2999-01-01T00:00:00Z']);
    expect([future.code, future.stdout]).toEqual([0, 'no audit records\n']);
    expect((await run(['audit', 'events', '--outcome', 'maybe'])).code).toBe(2);
    expect((await run(['audit', 'events', '--from', 'yesterday'])).code).toBe(2);
    const badAction = await run(['audit', 'events', '--action', 'NOPE']);
    expect(badAction.code).toBe(3);
    expect(badAction.stderr).toContain('querystring.action');
  });

  it('audit hash --context equals the HMAC recorded for that context; --value-stdin reads the value from stdin only', async () => {
    const encrypts = await json<EventList>(['audit', 'events', '--key', 'cli-audit', '--action', 'crypto.encrypt']);
    const recorded = new Set(encrypts.events.map((r) => r.details.context).filter((v) => v !== undefined));
    expect(recorded.size).toBe(1);
    const [hmac] = [...recorded];
    expect(hmac).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);

    const same = await run(['audit', 'hash', '--context', 'tenant=acme-corp']);
    expect([same.code, same.stdout]).toEqual([0, `${hmac}\n`]);
    const other = await json<{ hmac: string }>(['audit', 'hash', '--context', 'tenant=acme-corp2']);
    expect(other.hmac).not.toBe(hmac);

    const value = 'a value only the auditor holds';
    const fromStdin = await run(['audit', 'hash', '--value-stdin'], `${value}\n`);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toMatch(/^hmac-sha256:[0-9a-f]{64}\n$/);
    // One final newline is dropped: `echo value |` and a file without a newline hash alike.
    expect((await run(['audit', 'hash', '--value-stdin'], value)).stdout).toBe(fromStdin.stdout);
    expect((await run(['audit', 'hash', '--value-stdin'], `${value}!`)).stdout).not.toBe(fromStdin.stdout);

    expect((await run(['audit', 'hash'])).code).toBe(2);
    expect((await run(['audit', 'hash', '--value-stdin', '--context', 'a=b'], value)).code).toBe(2);
    expect((await run(['audit', 'hash', '--value-stdin'], '')).code).toBe(2);
    // The value is in no audit record, and the request naming it is recorded without it.
    const hashes = await json<EventList>(['audit', 'events', '--action', 'audit.hash', '--all']);
    expect(hashes.events.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(hashes)).not.toContain(value);
  });

  it('audit checkpoint signs every chain head; verify then counts it', async () => {
    const before = await json<AuditVerifyReport>(['audit', 'verify']);
    const checkpoint = await json<AuditCheckpointView>(['audit', 'checkpoint']);
    expect(checkpoint).toMatchObject({ id: expect.any(Number), keyId: expect.stringMatching(/^sha256:/), heads: [expect.any(Object)] });
    const table = await run(['audit', 'checkpoint']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Checkpoint: +\d+\nTime: +\S+\nNode: +\S+\nKey ID: +sha256:[0-9a-f]{64}\n\nCHAIN +SEQ +HASH\n/);
    const after = await json<AuditVerifyReport>(['audit', 'verify']);
    // At least the two signed here (a timed one may land in between).
    expect(after.checkpoints).toBeGreaterThanOrEqual(before.checkpoints + 2);
    expect(after.latestCheckpointAt).not.toBeNull();
  });

  // Last: it leaves the trail damaged.
  it('audit verify exits 3 naming the chain and record when a stored record was edited', async () => {
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(join(server.dataDir, 'keyward.db'));
    try {
      db.prepare("UPDATE audit_events SET actor = 'mallory' WHERE chain_seq = 3").run();
    } finally {
      db.close();
    }
    const out = await run(['audit', 'verify']);
    expect(out.code).toBe(3);
    expect(out.stdout).toMatch(/^Result: +INVALID\n/);
    expect(out.stdout).toMatch(/\nProblem: +altered\nChain: +\S+\nFirst bad record: +3\n/);
    const report = JSON.parse((await run(['--json', 'audit', 'verify'])).stdout) as AuditVerifyReport;
    expect(report).toMatchObject({ valid: false, problem: { kind: 'altered', seq: 3 } });
  });
});

describe('audit rendering', () => {
  it('shows the file sink and its problem when the trail is otherwise intact', () => {
    const text = renderAuditReport({
      valid: false,
      chains: [{ chain: 'node-a', records: 9, head: { chain: 'node-a', seq: 9, hash: 'h' }, checkpointedSeq: 5 }],
      checkpoints: 2,
      latestCheckpointAt: '2026-06-01T00:00:00.000Z',
      problem: null,
      file: {
        path: '/var/log/keyward/audit.jsonl',
        valid: false,
        head: { chain: 'node-a', seq: 7, hash: 'h' },
        problem: { kind: 'truncated', chain: 'node-a', seq: 8, checkpointId: null, message: 'cut' },
      },
    });
    expect(text).toContain('File sink:          /var/log/keyward/audit.jsonl (INVALID, ends at node-a record 7)\n');
    expect(text).toContain('Problem:            truncated\nChain:              node-a\nFirst bad record:   8\nDetail:             cut\n');
    expect(text).toContain('node-a  9        9     5\n');
  });

  it('escapes control characters from the server', () => {
    const record: AuditRecordView = {
      chain: 'node-a',
      seq: 1,
      time: '2026-06-01T00:00:00.000Z',
      actor: 'evil\u001b[2J',
      action: 'key.read',
      namespace: null,
      key: null,
      keyVersion: null,
      outcome: 'denied',
      errorCode: 'forbidden',
      requestId: 'r',
      source: '127.0.0.1',
      details: {},
      prevHash: '0',
      hash: '1',
    };
    const text = renderAuditEvents([record]);
    expect(text).toContain('evil\\u001b[2J');
    expect(text).toContain('denied (forbidden)');
  });
});
