import Sqlite from 'better-sqlite3';
import { Kysely, type SqliteDatabase, SqliteDialect } from 'kysely';
import { singleNodeChannel } from '../change-channel.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { withStatementCache } from './statement-cache.js';

export interface SqliteStoreConfig {
  /** Path of the database file. */
  path: string;
}

/**
 * Opens (creating if needed) a SQLite database in WAL mode with full sync, so
 * a committed audit record survives power loss, and secure_delete, so erased
 * material is overwritten rather than left in free pages.
 */
export function openSqliteStore(config: SqliteStoreConfig): Store {
  const database = new Sqlite(config.path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('secure_delete = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(immediateTransactions(database)) }) });
  return new KyselyStore(db, 'sqlite', singleNodeChannel);
}

/**
 * Transactions begin IMMEDIATE, taking the write lock at once (waiting up to
 * busy_timeout for it). With several processes on one file (`--workers`), a
 * deferred transaction that reads and then writes fails at once with
 * SQLITE_BUSY when another process committed in between (its WAL snapshot
 * is stale) instead of waiting its turn. Every transaction Keyward runs
 * writes.
 *
 * The wait blocks the worker's event loop, on purpose: a transaction (and a
 * cache's read-through) then runs to its end within one turn of the loop,
 * so a change relayed by another worker is never applied in the middle of
 * a read-through that would cache what the change replaced.
 */
function immediateTransactions(database: Sqlite.Database): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare: (sql: string) => database.prepare(sql === 'begin' ? 'begin immediate' : sql),
  };
}
