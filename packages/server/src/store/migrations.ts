import { type Kysely, sql } from 'kysely';
import { v6AuditChain } from './migrations/v6-audit-chain.js';
import { v7Alerts } from './migrations/v7-alerts.js';
import { v8Incidents } from './migrations/v8-incidents.js';
import { v9Governance } from './migrations/v9-governance.js';
import { v10Totp } from './migrations/v10-totp.js';
import { v11TlsIdentities } from './migrations/v11-tls-identities.js';
import { v12KeyProtection } from './migrations/v12-key-protection.js';
import { v13Byok } from './migrations/v13-byok.js';
import type { Database } from './schema.js';
import { StoreVersionError } from './store.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  description: string;
  up(db: Kysely<Database>, dialect: Dialect): Promise<void>;
}

/**
 * Numbered migrations. Append only: never edit one that has shipped. Each runs
 * in its own transaction together with the bump of `schema_version`.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'keys, versions, KEKs, principals, tokens, grants, audit',
    async up(db, dialect) {
      const binary = dialect === 'postgres' ? 'bytea' : 'blob';
      await db.schema
        .createTable('keks')
        .addColumn('namespace', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('wrapped', sql.raw(binary), (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('keks_pk', ['namespace', 'version'])
        .execute();
      await db.schema
        .createTable('keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('namespace', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('usage', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('class', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('rotation_period', 'text')
        .addColumn('max_uses_per_version', 'bigint')
        .addColumn('next_rotation_at', 'text')
        .addColumn('primary_version', 'integer', (c) => c.notNull())
        .addColumn('exportable', 'integer', (c) => c.notNull())
        .addColumn('deletion_window_days', 'integer', (c) => c.notNull())
        .addColumn('deletion_date', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('keys_namespace_name', ['namespace', 'name'])
        .execute();
      for (const column of ['owner', 'class', 'environment', 'state', 'algorithm'] as const) {
        await db.schema.createIndex(`keys_${column}`).on('keys').columns(['namespace', column, 'name']).execute();
      }
      await db.schema
        .createTable('key_tags')
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('tag_key', 'text', (c) => c.notNull())
        .addColumn('tag_value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_tags_pk', ['key_id', 'tag_key'])
        .execute();
      await db.schema.createIndex('key_tags_lookup').on('key_tags').columns(['tag_key', 'tag_value']).execute();
      await db.schema
        .createTable('key_versions')
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('activated_at', 'text')
        .addColumn('deactivated_at', 'text')
        .addColumn('compromised_at', 'text')
        .addColumn('destroyed_at', 'text')
        .addColumn('uses', 'bigint', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text')
        .addColumn('material', sql.raw(binary))
        .addColumn('kek_version', 'integer', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('key_versions_pk', ['key_id', 'version'])
        .execute();
      await db.schema
        .createTable('principals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('environments', 'text', (c) => c.notNull())
        .addColumn('teams', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal_id', 'text', (c) => c.notNull().references('principals.id'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('grants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('operations', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('grants_key').on('grants').column('key_id').execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('namespace', 'text')
        .addColumn('key_name', 'text')
        .addColumn('key_version', 'integer')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 2,
    description: 'life cycle: cryptoperiods, minimum decryption version, use reservations, events',
    async up(db, dialect) {
      await db.schema
        .alterTable('keys')
        .addColumn('min_decryption_version', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      await db.schema.alterTable('keys').addColumn('prepublish_period', 'text').execute();
      await db.schema.alterTable('keys').addColumn('originator_period', 'text').execute();
      await db.schema
        .alterTable('key_versions')
        .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('key_versions').addColumn('activate_at', 'text').execute();
      await db.schema.createIndex('keys_next_rotation').on('keys').columns(['state', 'next_rotation_at']).execute();
      await db.schema.createIndex('keys_deletion').on('keys').columns(['state', 'deletion_date']).execute();
      await db.schema.createIndex('key_versions_state').on('key_versions').columns(['state', 'activate_at']).execute();
      await db.schema
        .createTable('events')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('namespace', 'text', (c) => c.notNull())
        .addColumn('key_name', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('key_version', 'integer')
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 3,
    description: 'webhooks and their delivery log',
    async up(db, dialect) {
      const binary = dialect === 'postgres' ? 'bytea' : 'blob';
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('events', 'text', (c) => c.notNull())
        .addColumn('secret', sql.raw(binary), (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('failure_reason', 'text')
        .addColumn('cursor', 'bigint', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text')
        .addColumn('last_delivery_at', 'text')
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'bigint', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('next_retry_at', 'text')
        .execute();
      await db.schema.createIndex('webhook_deliveries_webhook').on('webhook_deliveries').columns(['webhook_id', 'seq']).execute();
    },
  },
  {
    version: 4,
    description: 'index for usage reports over the audit records',
    async up(db) {
      await db.schema.createIndex('audit_events_key_usage').on('audit_events').columns(['namespace', 'key_name', 'time']).execute();
    },
  },
  {
    version: 5,
    description: 'when the scheduler must look at each key next',
    async up(db) {
      await db.schema.alterTable('keys').addColumn('next_check_at', 'text').execute();
      await db.schema.createIndex('keys_next_check').on('keys').column('next_check_at').execute();
      // Every live key is looked at once; the scheduler then stores its real next time.
      await db
        .updateTable('keys')
        .set((eb) => ({ next_check_at: eb.ref('created_at') }))
        .where('state', '!=', 'destroyed')
        .execute();
    },
  },
  v6AuditChain,
  v7Alerts,
  v8Incidents,
  v9Governance,
  v10Totp,
  // 11 is taken by a change merged in parallel; numbers need only increase.
  v11TlsIdentities,
  // 12 and 13 are taken by changes merged in parallel (seal rekey, backups); numbers need only increase.
  v12KeyProtection,
  v13Byok,
];

/** The newest schema this Keyward writes: the last migration's number. Numbers strictly increase. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((last, m) => {
  if (m.version <= last) throw new Error(`migration ${m.version} is out of order`);
  return m.version;
}, 0);

/** Applies every migration newer than the database's `schema_version`, refusing a newer database. */
/** Advisory lock key that serializes migrations of several nodes starting at once on PostgreSQL. */
const MIGRATION_LOCK = 0x6b65797761726402n;

/**
 * Applies every migration newer than the database's `schema_version`, in one
 * transaction (both dialects have transactional DDL), refusing a newer
 * database. `target` stops at an older schema (a restore loads an archive
 * into the schema it was written from, then migrates the rest). On PostgreSQL an advisory lock makes concurrent starts wait for
 * each other instead of racing.
 */
export async function migrate(db: Kysely<Database>, dialect: Dialect, target: number = SCHEMA_VERSION): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`.execute(tx);
    await tx.schema
      .createTable('meta')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    const row = await tx.selectFrom('meta').select('value').where('name', '=', 'schema_version').executeTakeFirst();
    const current = row ? Number(row.value) : 0;
    if (!Number.isInteger(current) || current > SCHEMA_VERSION) {
      throw new StoreVersionError(
        `the database has schema version ${row?.value}, newer than this Keyward understands (${SCHEMA_VERSION}); upgrade Keyward`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current || migration.version > target) continue;
      await migration.up(tx, dialect);
      const value = String(migration.version);
      if (current === 0 && migration.version === 1) await tx.insertInto('meta').values({ name: 'schema_version', value }).execute();
      else await tx.updateTable('meta').set({ value }).where('name', '=', 'schema_version').execute();
    }
  });
}
