import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, Harness } from './support/harness.js';

/**
 * Crypto-shredding: a destroyed version's wrapped material must be gone from
 * the storage itself, not only from what SQL returns.
 */
let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => h.close());

async function materialOf(keyId: string, version: number): Promise<Buffer> {
  const rows = await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ? AND version = ?', [keyId, version]);
  return Buffer.from(rows[0]?.material as Uint8Array);
}

describe('destroyed material is erased from storage', () => {
  it('after destroy-version and scheduled destruction, the wrapped bytes are nowhere in the database files', async () => {
    const a = await h.createKey('shred-a');
    await h.call('POST', '/v1/keys/shred-a/encrypt', { plaintext: b64('shred me') });
    await h.call('POST', '/v1/keys/shred-a/rotate');
    const b = await h.createKey('shred-b', 'ed25519');
    const secrets = [await materialOf(a.id, 1), await materialOf(a.id, 2), await materialOf(b.id, 1)];
    await h.call('POST', '/v1/keys/shred-a/versions/1/deactivate');
    expect((await h.call('POST', '/v1/keys/shred-a/versions/1/destroy')).status).toBe(200);
    await h.call('POST', '/v1/keys/shred-b/schedule-deletion', { days: 7 });
    h.clock.advance(7 * 86_400_000);
    await h.keyward.scheduler.runOnce();
    expect((await h.call('GET', '/v1/keys/shred-b')).body.state).toBe('destroyed');
    const gone = [secrets[0] as Buffer, secrets[2] as Buffer];
    const kept = secrets[1] as Buffer;

    if (h.testStore.kind === 'sqlite') {
      await h.testStore.raw('PRAGMA wal_checkpoint(TRUNCATE)');
      const path = h.testStore.location;
      const files = [readFileSync(path), readFileSync(`${path}-wal`, { flag: 'a+' })];
      const all = Buffer.concat(files);
      expect(all.includes(kept), 'a live version is found (the search works)').toBe(true);
      for (const bytes of gone) expect(all.includes(bytes)).toBe(false);
    } else {
      // Visible rows first, then the table's files after VACUUM FULL rewrote them without dead row versions.
      const client = new pg.Client({ connectionString: h.testStore.location });
      await client.connect();
      try {
        for (const bytes of gone) {
          const found = await client.query(
            "SELECT count(*)::int AS n FROM key_versions WHERE position($1::bytea in coalesce(material, ''::bytea)) > 0",
            [bytes],
          );
          expect(found.rows[0].n).toBe(0);
        }
        await client.query('VACUUM FULL key_versions');
        const dir = (await client.query('SHOW data_directory')).rows[0].data_directory as string;
        const file = (await client.query("SELECT pg_relation_filepath('key_versions') AS p")).rows[0].p as string;
        const table = readFileSync(`${dir}/${file}`);
        expect(table.includes(kept), 'a live version is found (the search works)').toBe(true);
        for (const bytes of gone) expect(table.includes(bytes)).toBe(false);
      } finally {
        await client.end();
      }
    }
  });
});
