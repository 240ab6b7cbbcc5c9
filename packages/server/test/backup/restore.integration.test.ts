import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeywardClient } from '@keyward/client';
import { Decrypter, Encrypter } from 'age-encryption';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYWARD_BIN, type RunningServer, startServer } from '../../../sdk/test/support/server.js';
import { rootWrapped } from '../../src/backup/root-wrapped.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { COPIED_TABLES, type TableRow } from '../../src/store/table-copy.js';
import { freePort, spawnKeyward, stop, waitForHealth } from '../support/processes.js';
import { POSTGRES_URL } from '../support/stores.js';

const exec = promisify(execFile);
const text = (s: string) => new TextEncoder().encode(s);

/** What `keyward backup verify --json` prints. */
interface VerifyJson {
  ok: boolean;
  formatVersion: number;
  versions: { checked: number; passed: number; failed: number; withoutMaterial: number; inToken: number; expected: string };
  failures: Array<{ keyId: string; name: string; version: number; problem: string }>;
  audit: { valid: boolean; chains: number; records: number; checkpoints: number; problem: unknown };
}

interface Made {
  ciphertexts: Array<{ key: string; ciphertext: string; plaintext: string }>;
  signatures: Array<{ key: string; message: string; signature: Uint8Array }>;
  macs: Array<{ key: string; message: string; mac: Uint8Array }>;
}

function keyward(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(KEYWARD_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts `keyward server` on an existing (restored) data directory and waits for health. */
async function startOn(
  dataDir: string,
  databaseUrl: string | null,
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const args = ['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, ...(databaseUrl ? ['--database-url', databaseUrl] : [])];
  const server = spawnKeyward(args, { KEYWARD_WORKERS: '1', ...env });
  const url = `http://127.0.0.1:${port}`;
  // 30 s: 300 polls of 100 ms.
  await waitForHealth(server, url, 30_000);
  return { url, child: server.child, output: server.output };
}

/** Every copied row of a store, root-wrapped columns left out (they are under another root key by design). */
async function rowsOf(store: Store): Promise<Map<string, unknown[]>> {
  return store.readSnapshot(async (reader) => {
    const out = new Map<string, unknown[]>();
    for (const table of COPIED_TABLES) {
      const rows: unknown[] = [];
      let after: TableRow | null = null;
      for (;;) {
        const page = await reader.page(table, after, 500);
        for (const row of page) {
          if (table.name === 'meta' && (row.name === 'schema_version' || String(row.name).startsWith('seal.'))) continue;
          const wrapped = rootWrapped(table.name, row);
          const copy: Record<string, unknown> = {};
          for (const [column, value] of Object.entries(row)) {
            if (column === wrapped?.column) continue;
            // Compare across dialects: PostgreSQL BIGINT answers strings, BLOBs are Buffers either way.
            copy[column] =
              value instanceof Uint8Array
                ? Buffer.from(value).toString('base64')
                : typeof value === 'string' &&
                    /^\d+$/.test(value) &&
                    ['seq', 'id', 'uses', 'reserved', 'chain_seq', 'cursor', 'event_id', 'last_step', 'max_uses_per_version'].includes(
                      column,
                    )
                  ? Number(value)
                  : value;
          }
          rows.push(copy);
        }
        if (page.length < 500) break;
        after = page.at(-1) ?? null;
      }
      out.set(table.name, rows);
    }
    return out;
  });
}

/** Keys of every algorithm family (two rotations of the encryption keys), what they made, a principal, a grant and a checkpoint. */
async function populate(admin: KeywardClient): Promise<Made> {
  const made: Made = { ciphertexts: [], signatures: [], macs: [] };
  for (const algorithm of ['aes-256-gcm', 'chacha20-poly1305', 'rsa-oaep-3072'] as const) {
    const key = `enc-${algorithm}`;
    await admin.createKey({ name: key, algorithm, owner: 'team-a' });
    for (let v = 0; v < 2; v++) {
      const plaintext = `secret ${algorithm} ${v}`;
      const { ciphertext } = await admin.encrypt(key, text(plaintext), { context: { v: String(v) } });
      made.ciphertexts.push({ key, ciphertext, plaintext });
      await admin.rotateKey(key);
    }
  }
  for (const algorithm of ['ed25519', 'ecdsa-p256', 'rsa-pss-3072', 'ml-dsa-65'] as const) {
    const key = `sig-${algorithm}`;
    await admin.createKey({ name: key, algorithm, owner: 'team-a' });
    const message = `release ${algorithm}`;
    const { signature } = await admin.sign(key, { message: text(message) });
    made.signatures.push({ key, message, signature });
  }
  await admin.createKey({ name: 'mac-key', algorithm: 'hmac-sha256', owner: 'team-a' });
  made.macs.push({ key: 'mac-key', message: 'm', mac: (await admin.mac('mac-key', text('m'))).mac });
  await admin.createPrincipal({ id: 'svc-app', kind: 'service', roles: ['key-user'] });
  await admin.createToken('svc-app');
  await admin.addGrant('enc-aes-256-gcm', { principal: 'svc-app', operations: ['encrypt', 'decrypt'] });
  await admin.auditCheckpoint();
  return made;
}

/** Starts a server on a restored target and checks the old admin token, every ciphertext, signature and MAC, and the audit chain. */
async function checkRestored(dataDir: string, databaseUrl: string | null, token: string, made: Made): Promise<void> {
  const server = await startOn(dataDir, databaseUrl);
  try {
    const admin = new KeywardClient({ address: server.url, token });
    expect((await admin.self()).principal.id).toBe('admin');
    for (const c of made.ciphertexts) {
      const { plaintext } = await admin.decrypt(c.key, c.ciphertext, { context: { v: c.plaintext.slice(-1) } });
      expect(new TextDecoder().decode(plaintext)).toBe(c.plaintext);
    }
    for (const s of made.signatures)
      expect((await admin.verify(s.key, { message: text(s.message), signature: s.signature })).valid).toBe(true);
    for (const m of made.macs) expect((await admin.verifyMac(m.key, text(m.message), m.mac)).valid).toBe(true);
    // New material is wrapped under the new seal's KEKs and works too.
    const fresh = await admin.encrypt('enc-aes-256-gcm', text('after restore'));
    expect(new TextDecoder().decode((await admin.decrypt('enc-aes-256-gcm', fresh.ciphertext)).plaintext)).toBe('after restore');
    // The restored audit chain and the signed checkpoints still verify (the audit signing key came back too).
    const report = await admin.verifyAudit();
    expect(report.valid).toBe(true);
    expect(server.output()).not.toContain(token);
  } finally {
    await stop(server.child);
  }
}

/** A scratch PostgreSQL database next to the test one; `drop` removes it. */
async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `kw_backup_restore_${randomBytes(4).toString('hex')}`;
  await exec('createdb', ['-h', '127.0.0.1', '-U', 'postgres', name]);
  return {
    url: (POSTGRES_URL as string).replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      await exec('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--force', name]);
    },
  };
}

/** Tables in a PostgreSQL database's public schema: a restore that refused must have created none. */
async function publicTables(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe('backup and restore', () => {
  let source: RunningServer;
  let dir: string;
  let archive: string;
  let identity: string;
  let recipient: string;
  let made: Made;
  /** The source's rows at backup time, read from a copy of its database taken while it was stopped. */
  let sourceRows: Map<string, Array<Record<string, unknown>>>;

  beforeAll(async () => {
    await exec(
      process.execPath,
      [join(KEYWARD_BIN, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'packages/cli', 'packages/server'],
      {
        cwd: join(KEYWARD_BIN, '..', '..'),
      },
    );
    dir = await mkdtemp(join(tmpdir(), 'keyward-restore-'));
    identity = join(dir, 'custodian.txt');
    await exec('age-keygen', ['-o', identity]);
    recipient = (await exec('age-keygen', ['-y', identity])).stdout.trim();
    source = await startServer();
    made = await populate(new KeywardClient({ address: source.url, token: source.token }));

    archive = join(dir, 'backup.age');
    const created = await keyward(['backup', 'create', '--recipient', recipient, '--out', archive], {
      KEYWARD_ADDR: source.url,
      KEYWARD_TOKEN: source.token,
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    // What the archive holds, as the restore reads it: the reference every restored table is compared with.
    const decrypted = (await exec('age', ['-d', '-i', identity, archive], { maxBuffer: 256 * 1024 * 1024 })).stdout;
    const lines = decrypted
      .trim()
      .split('\n')
      .slice(1, -1)
      .map((l) => JSON.parse(l) as { table: string; row: Record<string, unknown> });
    sourceRows = new Map(COPIED_TABLES.map((t) => [t.name, lines.filter((l) => l.table === t.name).map((l) => l.row)]));
  }, 240_000);

  afterAll(async () => {
    await source?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the archive holds every table of the schema but keyward_nodes, and the source rows it was made from', async () => {
    const db = openSqliteStore({ path: join(source.dataDir, 'keyward.db') });
    try {
      const live = await rowsOf(db);
      // Rows written before the backup are all in the archive (later audit records may follow it).
      for (const name of ['keys', 'key_versions', 'keks', 'principals', 'tokens', 'grants', 'key_tags']) {
        expect(sourceRows.get(name)?.length, name).toBe(live.get(name)?.length);
      }
      expect((sourceRows.get('key_versions') ?? []).length).toBe(3 * 3 + 4 + 1);
      expect((sourceRows.get('audit_checkpoints') ?? []).length).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
  });

  const targets: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  for (const target of targets) {
    it(`restores into a fresh ${target} target with a new file seal: old admin token, every ciphertext, signature and MAC, the audit chain`, async () => {
      const dataDir = join(dir, `restored-${target}`);
      const scratch = target === 'postgres' ? await scratchDatabase() : null;
      const databaseUrl = scratch?.url ?? null;
      const dbArgs = databaseUrl ? ['--database-url', databaseUrl] : [];
      try {
        const restored = await keyward(['backup', 'restore', archive, '--identity', identity, '--data-dir', dataDir, ...dbArgs]);
        expect(restored.stderr).toBe('');
        expect(restored.code).toBe(0);
        expect(restored.stdout).toMatch(/^Restored \d+ rows/);
        const rootKey = await readFile(join(dataDir, 'root.key'));
        expect(rootKey).toHaveLength(32);
        expect(rootKey.equals(await readFile(join(source.dataDir, 'root.key')))).toBe(false);
        expect(await readdir(dataDir)).not.toContain('admin-token');

        // Completeness: every table's rows equal the archive's (root-wrapped values are under the new seal).
        const store = databaseUrl
          ? openPostgresStore({ connectionString: databaseUrl })
          : openSqliteStore({ path: join(dataDir, 'keyward.db') });
        try {
          const back = await rowsOf(store);
          for (const table of COPIED_TABLES) {
            const expected = (sourceRows.get(table.name) ?? []).map((row) => {
              const copy: Record<string, unknown> = {};
              for (const [column, value] of Object.entries(row)) {
                if (typeof value === 'object' && value !== null && 'wrapped' in value) continue;
                copy[column] = typeof value === 'object' && value !== null && 'bytes' in value ? (value as { bytes: string }).bytes : value;
              }
              return copy;
            });
            expect(back.get(table.name), table.name).toEqual(expected);
          }
        } finally {
          await store.close();
        }

        // Refuses the now non-empty target without --force, writing nothing.
        const again = await keyward(['backup', 'restore', archive, '--identity', identity, '--data-dir', dataDir, ...dbArgs]);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/not empty.*--force/);

        await checkRestored(dataDir, databaseUrl, source.token, made);
      } finally {
        await scratch?.drop();
      }
    });
  }

  /** Runs `keyward backup verify --json` with its scratch store under `scratchParent`, which must be left empty. */
  async function verify(file: string, scratchParent: string): Promise<{ code: number | null; report: VerifyJson; stderr: string }> {
    await mkdir(scratchParent, { recursive: true });
    const result = await keyward(['backup', 'verify', file, '--identity', identity, '--json'], { TMPDIR: scratchParent });
    expect(await readdir(scratchParent), 'the scratch store is deleted').toEqual([]);
    expect(result.stdout + result.stderr).not.toMatch(/AGE-SECRET-KEY/);
    return { code: result.code, report: JSON.parse(result.stdout || 'null') as VerifyJson, stderr: result.stderr };
  }

  it('backup verify: every version with material matches its known-answer value and the audit chain verifies to the recorded head', async () => {
    const { code, report, stderr } = await verify(archive, join(dir, 'verify-good'));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.formatVersion).toBe(2);
    expect(report.versions).toEqual({ checked: 14, passed: 14, failed: 0, withoutMaterial: 0, inToken: 0, expected: 'known-answers' });
    expect(report.failures).toEqual([]);
    expect(report.audit.valid).toBe(true);
    expect(report.audit.chains).toBe(1);
    expect(report.audit.records).toBeGreaterThan(20);
    expect(report.audit.checkpoints).toBeGreaterThan(0);
    // The known-answer lines are the versions' fingerprints, one after each key_versions row with material.
    const lines = (await exec('age', ['-d', '-i', identity, archive], { maxBuffer: 256 * 1024 * 1024 })).stdout.trim().split('\n');
    const parsed = lines.map(
      (l) =>
        JSON.parse(l) as { type: string; table?: string; row?: Record<string, unknown>; key?: string; version?: number; value?: string },
    );
    const answers = parsed.filter((l) => l.type === 'known-answer');
    expect(answers).toHaveLength(14);
    for (const answer of answers) {
      const before = parsed[parsed.indexOf(answer) - 1];
      expect(before?.table).toBe('key_versions');
      expect(before?.row?.key_id).toBe(answer.key);
      expect(before?.row?.version).toBe(answer.version);
      expect(answer.value).toBe(before?.row?.fingerprint);
    }
    expect(parsed[0]).toMatchObject({ type: 'header', version: 2, auditHeads: [{ seq: expect.any(Number) }] });
    expect(parsed.at(-1)).toMatchObject({ type: 'end', knownAnswers: 14 });
  });

  it('backup verify: an archive whose recorded known-answer value does not match fails and names the version', async () => {
    // Re-encrypt, to the same custodian, an archive whose known-answer value for enc-aes-256-gcm version 2 is altered (trailer recomputed).
    const decrypter = new Decrypter();
    decrypter.addIdentity((await readFile(identity, 'utf8')).split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-')) as string);
    const plain = new TextDecoder().decode(await decrypter.decrypt(await readFile(archive)));
    const lines = plain.trimEnd().split('\n');
    const keyId = lines
      .map((l) => JSON.parse(l) as { table?: string; row?: { id?: string; name?: string } })
      .find((l) => l.table === 'keys' && l.row?.name === 'enc-aes-256-gcm')?.row?.id;
    expect(keyId).toBeTypeOf('string');
    const at = lines.findIndex((l) => {
      const v = JSON.parse(l) as { type: string; key?: string; version?: number };
      return v.type === 'known-answer' && v.key === keyId && v.version === 2;
    });
    expect(at).toBeGreaterThan(0);
    const answer = JSON.parse(lines[at] as string) as { value: string };
    answer.value = `${answer.value.slice(0, -1)}${answer.value.endsWith('0') ? '1' : '0'}`;
    lines[at] = JSON.stringify(answer);
    const body = `${lines.slice(0, -1).join('\n')}\n`;
    const end = JSON.parse(lines.at(-1) as string) as { sha256: string };
    end.sha256 = createHash('sha256').update(body, 'utf8').digest('hex');
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    const forged = join(dir, 'forged-known-answer.age');
    await writeFile(forged, await encrypter.encrypt(`${body}${JSON.stringify(end)}\n`));

    const { code, report } = await verify(forged, join(dir, 'verify-forged'));
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.versions).toMatchObject({ checked: 14, passed: 13, failed: 1 });
    expect(report.failures).toEqual([{ keyId, name: 'enc-aes-256-gcm', version: 2, problem: expect.stringMatching(/known-answer/) }]);
    expect(report.audit.valid).toBe(true);

    const human = await keyward(['backup', 'verify', forged, '--identity', identity]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`First bad version: key 'enc-aes-256-gcm' (${keyId}) version 2`);
    expect(human.stdout).toMatch(/FAILED/);
    // A damaged archive is refused as a restore refuses it, and no scratch store is left behind.
    const damaged = Buffer.from(await readFile(archive));
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] ?? 0) ^ 0x01;
    await writeFile(join(dir, 'damaged.age'), damaged);
    const scratchParent = join(dir, 'verify-damaged');
    await mkdir(scratchParent);
    const refused = await keyward(['backup', 'verify', join(dir, 'damaged.age'), '--identity', identity], { TMPDIR: scratchParent });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/damaged|integrity/);
    expect(refused.stderr).toMatch(/did not verify/);
    expect(await readdir(scratchParent)).toEqual([]);
  });

  it('refuses an archive with any one byte flipped (age header, header MAC, first, middle and last chunk) before writing anything', async () => {
    const bytes = await readFile(archive);
    const headerEnd = bytes.indexOf('\n---') + 1;
    const macLineEnd = bytes.indexOf(0x0a, headerEnd);
    expect(headerEnd).toBeGreaterThan(0);
    const positions = {
      'age version line': 3,
      'recipient stanza': Math.floor(headerEnd / 2),
      'header MAC': macLineEnd - 5,
      'payload nonce': macLineEnd + 3,
      'first chunk': macLineEnd + 17 + 100,
      middle: Math.floor(bytes.length / 2),
      'last byte (final chunk tag)': bytes.length - 1,
    };
    const scratch = POSTGRES_URL ? await scratchDatabase() : null;
    try {
      for (const [where, at] of Object.entries(positions)) {
        const flipped = Buffer.from(bytes);
        flipped[at] = (flipped[at] ?? 0) ^ 0x01;
        const file = join(dir, `flipped-${at}.age`);
        await writeFile(file, flipped);
        const target = join(dir, `flipped-target-${at}`);
        const sqlite = await keyward(['backup', 'restore', file, '--identity', identity, '--data-dir', target]);
        expect(sqlite.code, `${where}: ${sqlite.stderr}`).toBe(1);
        expect(sqlite.stderr, where).toMatch(/does not open|damaged|integrity|truncated|not a Keyward backup/);
        expect(sqlite.stderr).toMatch(/nothing was restored/);
        await expect(readdir(target), where).rejects.toMatchObject({ code: 'ENOENT' });
        if (scratch !== null) {
          const pgTarget = join(dir, `flipped-pg-${at}`);
          const postgres = await keyward([
            'backup',
            'restore',
            file,
            '--identity',
            identity,
            '--data-dir',
            pgTarget,
            '--database-url',
            scratch.url,
          ]);
          expect(postgres.code, `${where}: ${postgres.stderr}`).toBe(1);
          expect(await publicTables(scratch.url), where).toBe(0);
          await expect(readdir(pgTarget), where).rejects.toMatchObject({ code: 'ENOENT' });
        }
      }
    } finally {
      await scratch?.drop();
    }
  });

  it('refuses a tampered or truncated archive, and a wrong identity, before writing anything', async () => {
    const bytes = await readFile(archive);
    const tampered = join(dir, 'tampered.age');
    const flipped = Buffer.from(bytes);
    const at = Math.floor(flipped.length / 2);
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    await writeFile(tampered, flipped);
    const truncated = join(dir, 'truncated.age');
    await writeFile(truncated, bytes);
    await truncate(truncated, bytes.length - 100);
    const stranger = join(dir, 'stranger.txt');
    await exec('age-keygen', ['-o', stranger]);
    for (const [file, id, message] of [
      [tampered, identity, /damaged|integrity|truncated/],
      [truncated, identity, /damaged|truncated/],
      [archive, stranger, /does not open/],
    ] as const) {
      const target = join(dir, `refused-${randomBytes(3).toString('hex')}`);
      const result = await keyward(['backup', 'restore', file, '--identity', id, '--data-dir', target]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/nothing was restored/);
      // Not even the data directory was made.
      await expect(readdir(target)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(result.stderr).not.toMatch(/AGE-SECRET-KEY/);
    }
  });
});

describe.runIf(POSTGRES_URL)('a backup made on PostgreSQL', () => {
  let dir: string;
  let scratch: { url: string; drop: () => Promise<void> };
  let source: { url: string; child: ChildProcess; output: () => string };
  const token = `kw_test_${randomBytes(24).toString('base64url')}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-restore-pg-'));
    scratch = await scratchDatabase();
    await mkdir(join(dir, 'source'), { mode: 0o700 });
    source = await startOn(join(dir, 'source'), scratch.url, { KEYWARD_INIT_ADMIN_TOKEN: token });
  }, 120_000);

  afterAll(async () => {
    if (source) await stop(source.child);
    await scratch?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('restores into SQLite with a new file seal: every ciphertext, signature and MAC, the audit chain', async () => {
    const made = await populate(new KeywardClient({ address: source.url, token }));
    const identity = join(dir, 'custodian.txt');
    await exec('age-keygen', ['-o', identity]);
    const recipient = (await exec('age-keygen', ['-y', identity])).stdout.trim();
    const archive = join(dir, 'backup.age');
    const created = await keyward(['backup', 'create', '--recipient', recipient, '--out', archive], {
      KEYWARD_ADDR: source.url,
      KEYWARD_TOKEN: token,
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const header = JSON.parse(
      (await exec('age', ['-d', '-i', identity, archive], { maxBuffer: 256 * 1024 * 1024 })).stdout.split('\n')[0] ?? '',
    ) as { source: { dialect: string } };
    expect(header.source.dialect).toBe('postgres');
    // The restore drill proves the PostgreSQL-made archive in a scratch SQLite store.
    const verified = await keyward(['backup', 'verify', archive, '--identity', identity, '--json']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, source: { dialect: 'postgres' }, versions: { checked: 14, passed: 14 } });

    const dataDir = join(dir, 'restored-sqlite');
    const restored = await keyward(['backup', 'restore', archive, '--identity', identity, '--data-dir', dataDir]);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(await readdir(dataDir)).toContain('keyward.db');
    await checkRestored(dataDir, null, token, made);
  }, 240_000);
});
