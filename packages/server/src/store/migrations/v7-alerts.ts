import { sql } from 'kysely';
import type { Migration } from '../migrations.js';

/**
 * Anomaly alerts (docs/alerts.md): the alerts themselves, what detectors
 * remember between runs (pairs seen, baselines, recent failure times), how
 * far the alert engine has read each audit chain, and events that are not
 * about a key (`alert.raised`, `alert.resolved`: the key columns of
 * `events` become nullable).
 */
export const v7Alerts: Migration = {
  version: 7,
  description: 'anomaly alerts, detector state, alert cursors; events without a key',
  async up(db, dialect) {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema
      .createTable('alerts')
      .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('dedup_key', 'text', (c) => c.notNull())
      .addColumn('namespace', 'text')
      .addColumn('key_name', 'text')
      .addColumn('key_version', 'integer')
      .addColumn('principal', 'text')
      .addColumn('source', 'text')
      .addColumn('summary', 'text', (c) => c.notNull())
      .addColumn('first_seen', 'text', (c) => c.notNull())
      .addColumn('last_seen', 'text', (c) => c.notNull())
      .addColumn('count', bigint, (c) => c.notNull())
      .addColumn('evidence', 'text', (c) => c.notNull())
      .addColumn('next_steps', 'text', (c) => c.notNull())
      .addColumn('raised_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('acknowledged_at', 'text')
      .addColumn('acknowledged_by', 'text')
      .addColumn('acknowledge_note', 'text')
      .addColumn('resolved_at', 'text')
      .addColumn('resolved_by', 'text')
      .addColumn('resolve_note', 'text')
      .execute();
    // At most one unresolved alert per type and subject: a repeat updates it (both dialects have partial indexes).
    await db.schema
      .createIndex('alerts_unresolved')
      .unique()
      .on('alerts')
      .column('dedup_key')
      .where(sql.ref('state'), '<>', 'resolved')
      .execute();
    await db.schema.createIndex('alerts_state').on('alerts').columns(['state', 'seq']).execute();
    await db.schema.createIndex('alerts_type').on('alerts').columns(['type', 'seq']).execute();
    await db.schema.createIndex('alerts_key').on('alerts').columns(['namespace', 'key_name', 'seq']).execute();

    await db.schema
      .createTable('alert_states')
      .addColumn('detector', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('alert_states_pk', ['detector', 'subject'])
      .execute();
    await db.schema.createIndex('alert_states_age').on('alert_states').columns(['detector', 'updated_at']).execute();

    await db.schema
      .createTable('alert_cursors')
      .addColumn('chain', 'text', (c) => c.primaryKey())
      .addColumn('chain_seq', bigint, (c) => c.notNull())
      .execute();

    if (dialect === 'postgres') {
      for (const column of ['namespace', 'key_name', 'key_id']) {
        await sql`alter table events alter column ${sql.ref(column)} drop not null`.execute(db);
      }
      return;
    }
    // SQLite cannot drop NOT NULL in place: rebuild the table, keeping ids and the AUTOINCREMENT high-water mark
    // (so an id is never reused and webhook cursors stay valid).
    await sql`create table events_v7 (
      id integer primary key autoincrement,
      time text not null,
      type text not null,
      namespace text,
      key_name text,
      key_id text,
      key_version integer,
      data text not null
    )`.execute(db);
    await sql`insert into events_v7 (id, time, type, namespace, key_name, key_id, key_version, data)
      select id, time, type, namespace, key_name, key_id, key_version, data from events order by id`.execute(db);
    await sql`delete from sqlite_sequence where name = 'events_v7'`.execute(db);
    await sql`insert into sqlite_sequence (name, seq) select 'events_v7', max(
      coalesce((select seq from sqlite_sequence where name = 'events'), 0),
      coalesce((select max(id) from events_v7), 0))`.execute(db);
    await sql`drop table events`.execute(db);
    await sql`alter table events_v7 rename to events`.execute(db);
  },
};
