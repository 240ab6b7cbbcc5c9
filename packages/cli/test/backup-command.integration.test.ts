import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeywardApiError, KeywardClient } from '@keyward/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const run = promisify(execFile);

/** A fresh age identity made by Debian's age-keygen: the file and its recipient. */
async function ageIdentity(dir: string, name: string): Promise<{ file: string; recipient: string }> {
  const file = join(dir, name);
  await run('age-keygen', ['-o', file]);
  const { stdout } = await run('age-keygen', ['-y', file]);
  return { file, recipient: stdout.trim() };
}

describe('keyward backup create', () => {
  let server: RunningServer;
  let admin: KeywardClient;
  let dir: string;

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    admin = new KeywardClient({ address: server.url, token: server.token });
    dir = await mkdtemp(join(tmpdir(), 'keyward-backup-'));
    await admin.createKey({ name: 'bk-aes', algorithm: 'aes-256-gcm', owner: 'team-a' });
    await admin.createKey({ name: 'bk-ed', algorithm: 'ed25519', owner: 'team-a' });
    await admin.rotateKey('bk-aes');
    await admin.encrypt('bk-aes', new TextEncoder().encode('hello'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes an archive that Debian age opens with a custodian identity; header counts match the rows and the trailer hash holds', async () => {
    const one = await ageIdentity(dir, 'one.txt');
    const two = await ageIdentity(dir, 'two.txt');
    const out = join(dir, 'backup.age');
    const env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    const created = await keyward(
      ['backup', 'create', '--recipient', one.recipient, '--recipient', two.recipient, '--out', out, '--json'],
      {
        env,
      },
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ file: out });
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect((await readFile(out)).subarray(0, 21).toString()).toBe('age-encryption.org/v1');

    for (const identity of [one, two]) {
      const { stdout } = await run('age', ['-d', '-i', identity.file, out], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
      const text = stdout.toString('utf8');
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      const header = JSON.parse(lines[0] ?? '') as {
        type: string;
        format: string;
        version: number;
        schemaVersion: number;
        source: { dialect: string };
        backupKey: string;
        tables: Array<{ name: string; rows: number }>;
      };
      expect(header).toMatchObject({ type: 'header', format: 'keyward-backup', version: 2, source: { dialect: 'sqlite' } });
      expect(Buffer.from(header.backupKey, 'base64')).toHaveLength(32);
      const end = JSON.parse(lines.at(-1) ?? '') as { type: string; rows: number; knownAnswers: number; sha256: string };
      const all = lines.slice(1, -1).map((line) => JSON.parse(line) as { type: string; table: string; row: Record<string, unknown> });
      const body = all.filter((line) => line.type === 'row');
      expect(end.type).toBe('end');
      expect(end.rows).toBe(body.length);
      // One known-answer line per version with material (docs/formats.md §9.4), and nothing else.
      expect(all.filter((line) => line.type === 'known-answer')).toHaveLength(3);
      expect(end.knownAnswers).toBe(3);
      expect(all.length).toBe(body.length + 3);
      const before = text.slice(0, text.length - (lines.at(-1)?.length ?? 0) - 1);
      expect(createHash('sha256').update(before, 'utf8').digest('hex')).toBe(end.sha256);
      const counted = new Map<string, number>();
      for (const line of body) counted.set(line.table, (counted.get(line.table) ?? 0) + 1);
      for (const table of header.tables) expect(counted.get(table.name) ?? 0, table.name).toBe(table.rows);
      const rows = (table: string) => body.filter((line) => line.table === table).map((line) => line.row);
      expect(rows('keys').map((key) => key.name)).toEqual(expect.arrayContaining(['bk-aes', 'bk-ed']));
      expect(rows('key_versions')).toHaveLength(3);
      expect(rows('principals').map((p) => p.id)).toContain('admin');
      // KEKs travel wrapped under the backup key, never as the store held them under the root key.
      expect(rows('keks').length).toBeGreaterThan(0);
      for (const kek of rows('keks')) expect(kek.wrapped).toEqual({ wrapped: expect.any(String) });
      const metaNames = rows('meta').map((m) => m.name);
      expect(metaNames).not.toContain('schema_version');
      expect(metaNames).toEqual(expect.arrayContaining(['initialized', 'audit.salt', 'audit.signing-key']));
      expect(rows('audit_events').length).toBeGreaterThan(0);
    }

    // The request is audited with the recipients' fingerprints, never the archive.
    const audit = await admin.auditEvents({ action: 'backup.create' });
    const record = audit.events.at(-1);
    const fingerprint = (r: string) => `sha256:${createHash('sha256').update(r).digest('hex')}`;
    expect(record).toMatchObject({
      action: 'backup.create',
      actor: 'admin',
      outcome: 'success',
      details: { recipients: `${fingerprint(one.recipient)},${fingerprint(two.recipient)}`, recipientKind: 'x25519' },
    });
  });

  it('refuses a bad recipient, a non-admin and an existing output file', async () => {
    const refused = await admin.backup(['age1notarecipient']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KeywardApiError);
    expect(refused).toMatchObject({ code: 'invalid_request', status: 400 });
    expect((refused as Error).message).toMatch(/^recipients\[0\]/);

    await admin.createPrincipal({ id: 'svc-bk', kind: 'service', roles: ['key-admin'] });
    const token = await admin.createToken('svc-bk');
    server.remember(token.token);
    const keyAdmin = new KeywardClient({ address: server.url, token: token.token });
    const { recipient } = await ageIdentity(dir, 'three.txt');
    await expect(keyAdmin.backup([recipient])).rejects.toMatchObject({ code: 'forbidden', status: 403 });

    const existing = join(dir, 'exists.age');
    await run('touch', [existing]);
    const again = await keyward(['backup', 'create', '--recipient', recipient, '--out', existing], {
      env: { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token },
    });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/exists/);
  });
});
