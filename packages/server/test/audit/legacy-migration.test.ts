import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditVerifier, auditPublicKey } from '@keyward/crypto';
import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { recordView } from '../../src/audit/file-sink.js';
import { LEGACY_CHAIN } from '../../src/store/migrations/v6-audit-chain.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import type { Database } from '../../src/store/schema.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('migration 6: records written before chaining', () => {
  it('are chained, in their original order, into the legacy chain, which then verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-legacy-'));
    dirs.push(dir);
    const path = join(dir, 'keyward.db');
    // A database as Keyward 5 left it: schema 5 and three unchained records.
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new Sqlite(path) }) });
    await db.schema
      .createTable('meta')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    for (const m of MIGRATIONS.filter((m) => m.version <= 5)) await m.up(db, 'sqlite');
    await db.insertInto('meta').values({ name: 'schema_version', value: '5' }).execute();
    const legacy = ['key.create', 'crypto.encrypt', 'key.rotate'].map((action, i) => ({
      time: `2026-05-0${i + 1}T00:00:00.000Z`,
      actor: 'admin',
      action,
      namespace: 'default',
      key: 'payments',
      key_name: 'payments',
      key_version: 1,
      outcome: 'success',
      error_code: null,
      request_id: `req-${i}`,
      source: '127.0.0.1',
      details: JSON.stringify({ n: i }),
    }));
    for (const { key: _, ...row } of legacy)
      await db
        .insertInto('audit_events')
        .values(row as never)
        .execute();
    await db.destroy();

    const store = openSqliteStore({ path });
    try {
      await store.migrate();
      const rows = await store.listAuditChain(LEGACY_CHAIN, 0, 10);
      expect(rows.map((r) => [r.chainSeq, r.action])).toEqual([
        [1, 'key.create'],
        [2, 'crypto.encrypt'],
        [3, 'key.rotate'],
      ]);
      expect(await store.auditHeads()).toEqual([{ chain: LEGACY_CHAIN, seq: 3, hash: (rows[2] as { hash: string }).hash }]);
      const { publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ed25519'));
      const verifier = new AuditVerifier({
        publicKey: auditPublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
        checkpoints: [],
        requireAllChains: true,
      });
      for (const r of rows) expect(verifier.record(recordView(r))).toBe(true);
      expect(verifier.finish(await store.auditHeads())).toMatchObject({ valid: true, problem: null });
    } finally {
      await store.close();
    }
  });
});
