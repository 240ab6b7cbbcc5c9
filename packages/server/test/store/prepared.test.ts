import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextInsertRows, prepared } from '../../src/store/audit-insert.js';
import type { Database } from '../../src/store/schema.js';

describe('prepared statements (compiled once, then bound)', () => {
  let db: Kysely<Database>;

  beforeEach(async () => {
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new Sqlite(':memory:') }) });
    await db.schema.createTable('audit_chains').addColumn('chain', 'text').addColumn('seq', 'integer').addColumn('hash', 'text').execute();
    await db.insertInto('audit_chains').values({ chain: 'node-a', seq: 0, hash: 'h0' }).execute();
  });
  afterEach(() => db.destroy());

  it('builds the query once and binds each call’s arguments where the SQL puts them, whatever their order', async () => {
    let builds = 0;
    // The arguments are declared chain-first; the SQL binds seq and hash (SET) before chain (WHERE).
    const moveHead = prepared((k, chain: string, seq: number, hash: string) => {
      builds += 1;
      return k.updateTable('audit_chains').set({ seq, hash }).where('chain', '=', chain);
    });
    const first = moveHead(db, 'node-a', 7, 'h7');
    expect(first.parameters).toEqual([7, 'h7', 'node-a']);
    await db.executeQuery(first);
    await db.executeQuery(moveHead(db, 'node-a', 8, 'h8'));
    expect(builds).toBe(1);
    expect(await db.selectFrom('audit_chains').selectAll().execute()).toEqual([{ chain: 'node-a', seq: 8, hash: 'h8' }]);
  });

  it('refuses a statement that drops an argument or binds one twice', () => {
    const drops = prepared((k, chain: string, _seq: number) => k.selectFrom('audit_chains').select('seq').where('chain', '=', chain));
    expect(() => drops(db, 'node-a', 1)).toThrow(/each of its arguments exactly once/);
    const twice = prepared((k, chain: string) =>
      k.selectFrom('audit_chains').select('seq').where('chain', '=', chain).where('hash', '=', chain),
    );
    expect(() => twice(db, 'node-a')).toThrow(/each of its arguments exactly once/);
  });
});

describe('audit INSERT sizes (nextInsertRows)', () => {
  const split = (count: number): number[] => {
    const sizes: number[] = [];
    for (let left = count; left > 0; left -= sizes.at(-1) as number) sizes.push(nextInsertRows(left));
    return sizes;
  };

  it('a group commit of up to 64 records is one statement of exactly its count', () => {
    for (let n = 1; n <= 64; n++) expect(split(n)).toEqual([n]);
  });

  it('larger ones take powers of two of at most 1,024 rows, then one exact remainder; every count uses few shapes in all', () => {
    expect(split(65)).toEqual([64, 1]);
    expect(split(100)).toEqual([64, 36]);
    expect(split(1000)).toEqual([512, 256, 128, 64, 40]);
    expect(split(5000)).toEqual([1024, 1024, 1024, 1024, 512, 256, 128, 8]);
    const shapes = new Set<number>();
    for (let n = 1; n <= 5000; n++) {
      const sizes = split(n);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(1024);
      for (const s of sizes) shapes.add(s);
    }
    expect(shapes.size).toBe(64 + 4);
  });
});
