import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { singleNodeChannel } from '../change-channel.js';
import { KyselyStore, type SnapshotRunner } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { type TableReader, tableReader } from '../table-copy.js';
import { type PreparingDatabase, type WriteStatement, withStatementCache } from './statement-cache.js';
import { DurableSqliteDialect, FlushGroup, WalFile, type WalFlush } from './wal-flush.js';

/** How long a statement other than `begin` lets SQLite wait for a lock (reads almost never need to). */
const BUSY_TIMEOUT_MS = 5_000;

export interface SqliteStoreConfig {
  /** Path of the database file. */
  path: string;
  /** Hears why the database could not be flushed to disk (the store then refuses all work). */
  onFlushError?: (error: unknown) => void;
  /** Makes the WAL durable: fdatasync of `PATH-wal` ({@link WalFile}) unless a test observes it. */
  flush?: WalFlush;
  /** How long a transaction waits for another process's write lock before 503 (default 5 s). */
  lockWaitMs?: number;
}

/**
 * Opens (creating if needed) a SQLite database in WAL mode, and
 * secure_delete, so erased material is overwritten rather than left in free
 * pages. Every commit is durable (it survives power loss) before its
 * transaction resolves: `synchronous = NORMAL` leaves the WAL's fsync to
 * {@link DurableSqliteDialect}, which runs it off the event loop and shares
 * it between concurrent commits, where `FULL` would stall every request for
 * each commit's fsync.
 */
export function openSqliteStore(config: SqliteStoreConfig): Store {
  const database = new Sqlite(config.path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('secure_delete = ON');
  database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const wal = new WalFile(`${config.path}-wal`);
  const flushes = new FlushGroup(config.flush ?? wal.flush, config.onFlushError);
  const dialect = new DurableSqliteDialect({ database: withStatementCache(immediateTransactions(database)) }, flushes, {
    onDestroy: () => wal.close(),
    ...(config.lockWaitMs === undefined ? {} : { lockWaitMs: config.lockWaitMs }),
  });
  const db = new Kysely<Database>({ dialect });
  return new KyselyStore(db, 'sqlite', singleNodeChannel, snapshotReader(config.path));
}

/**
 * Snapshots on a second, read-only connection: in WAL mode a read
 * transaction sees the database as of its first read while the store's own
 * connection keeps committing, so a long backup neither blocks requests nor
 * sees half of a later change.
 */
function snapshotReader(path: string): SnapshotRunner {
  return async <T>(fn: (reader: TableReader) => Promise<T>): Promise<T> => {
    const database = new Sqlite(path, { readonly: true, fileMustExist: true });
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
    try {
      await sql`begin`.execute(db);
      try {
        return await fn(tableReader(db));
      } finally {
        await sql`rollback`.execute(db);
      }
    } finally {
      await db.destroy();
    }
  };
}

/**
 * Transactions begin IMMEDIATE, taking the write lock at once. With several
 * processes on one file (`--workers`), a deferred transaction that reads
 * and then writes fails at once with SQLITE_BUSY when another process
 * committed in between (its WAL snapshot is stale) instead of waiting its
 * turn. Every transaction Keyward runs writes.
 *
 * The `begin` does not wait for the lock: it runs with a busy timeout of 0
 * (restored to the connection's 5 s right after, for every other
 * statement), so it fails at once with SQLITE_BUSY while another process
 * holds the lock, and the driver tries again on a later turn of the event
 * loop ({@link DurableSqliteDialect}). The worker keeps serving meanwhile.
 * A transaction's body, once begun, still runs to its end without waiting
 * on the loop. Caches that read through the store do not depend on it:
 * each drops what it read when a change arrived while it was reading (a
 * generation count).
 */
function immediateTransactions(database: Sqlite.Database): PreparingDatabase {
  let begin: WriteStatement | null = null;
  return {
    close: () => database.close(),
    prepare: (sql: string) => {
      if (sql !== 'begin') return database.prepare(sql);
      begin ??= beginWithoutWaiting(database);
      return begin;
    },
  };
}

function beginWithoutWaiting(database: Sqlite.Database): WriteStatement {
  const beginImmediate = database.prepare('begin immediate');
  const noWait = database.prepare('pragma busy_timeout = 0');
  const wait = database.prepare(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const noRows = (): never => {
    throw new TypeError('begin returns no rows');
  };
  return {
    reader: false,
    run(parameters) {
      noWait.get();
      try {
        return beginImmediate.run(parameters);
      } finally {
        wait.get();
      }
    },
    all: noRows,
    iterate: noRows,
  };
}
