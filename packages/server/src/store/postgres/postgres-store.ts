import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { PostgresChangeChannel } from './postgres-change-channel.js';

export interface PostgresStoreConfig {
  /** A `postgres://` connection string. Never logged: it may carry a password. */
  connectionString: string;
  maxConnections?: number;
}

/** Connects to PostgreSQL through a pool owned by the store. */
export function openPostgresStore(config: PostgresStoreConfig): Store {
  const pool = new pg.Pool({ connectionString: config.connectionString, max: config.maxConnections ?? 10 });
  // An idle client that loses its connection emits 'error'; without a listener that would crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new KyselyStore(db, 'postgres', new PostgresChangeChannel(config.connectionString));
}
