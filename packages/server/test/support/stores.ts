import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';

export type StoreKind = 'sqlite' | 'postgres';

/** The PostgreSQL server the suite runs against, when CI gives one. Unreachable then means failure, never a skip. */
export const POSTGRES_URL = process.env.KEYWARD_TEST_DATABASE_URL ?? null;

/** The store kind API-level tests use: PostgreSQL when configured, else SQLite. */
export const API_STORE: StoreKind = POSTGRES_URL ? 'postgres' : 'sqlite';

/** Every store kind available to this run (conformance runs on each). */
export const STORE_KINDS: StoreKind[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestStore {
  kind: StoreKind;
  /** A connection string (postgres) or file path (sqlite) that reopens the same data. */
  location: string;
  dataDir: string;
  open(): Store;
  /** Raw SQL on the underlying database, for tests that play the attacker with DB access. */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  destroy(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL as string });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of the given kind: a temp SQLite file, or a new PostgreSQL database. */
export async function freshStore(kind: StoreKind = API_STORE): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kw-test-'));
  if (kind === 'sqlite') {
    const path = join(dataDir, 'keyward.db');
    return {
      kind,
      location: path,
      dataDir,
      open: () => openSqliteStore({ path }),
      async raw(sql, params = []) {
        const { default: Sqlite } = await import('better-sqlite3');
        const db = new Sqlite(path);
        try {
          const statement = db.prepare(sql);
          if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
          statement.run(...params);
          return [];
        } finally {
          db.close();
        }
      },
      async destroy() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const name = `kw_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL as string);
  url.pathname = `/${name}`;
  const location = url.toString();
  return {
    kind,
    location,
    dataDir,
    open: () => openPostgresStore({ connectionString: location, maxConnections: 4 }),
    async raw(sql, params = []) {
      const client = new pg.Client({ connectionString: location });
      await client.connect();
      try {
        // better-sqlite3 style `?` placeholders become $1, $2, …
        let i = 0;
        const text = sql.replace(/\?/g, () => `$${++i}`);
        return (await client.query(text, params)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
    async destroy() {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
