import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return new KyselyStore(db, 'sqlite', singleNodeChannel);
}
