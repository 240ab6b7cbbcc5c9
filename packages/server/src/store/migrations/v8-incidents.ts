import { sql } from 'kysely';
import type { Migration } from '../migrations.js';

/**
 * Incidents (docs/incident-response.md): the incident record, its playbook
 * steps, each node's acknowledgement that it dropped a compromised version,
 * and the nodes sharing the database (so containment knows whom to wait for).
 */
export const v8Incidents: Migration = {
  version: 8,
  description: 'incidents, their steps and node acknowledgements; nodes',
  async up(db) {
    await db.schema
      .createTable('incidents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('namespace', 'text', (c) => c.notNull())
      .addColumn('key_name', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('key_version', 'integer', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('declared_by', 'text', (c) => c.notNull())
      .addColumn('declared_at', 'text', (c) => c.notNull())
      .addColumn('origin', 'text', (c) => c.notNull())
      .addColumn('alert_id', 'text')
      .addColumn('alert_type', 'text')
      .addColumn('request_id', 'text', (c) => c.notNull())
      .addColumn('rotated_to', 'integer')
      .addColumn('rekeyed_at', 'text')
      .addColumn('expected_nodes', 'text', (c) => c.notNull())
      .addColumn('ack_timeout_ms', 'integer', (c) => c.notNull())
      .addColumn('contain_timed_out', 'integer', (c) => c.notNull())
      .addColumn('raise_min_after', 'text')
      .addColumn('raise_min_at', 'text')
      .addColumn('min_raised_at', 'text')
      .addColumn('recovery_waiver', 'text')
      .addColumn('blast_radius', 'text')
      .addColumn('recovery_snapshot', 'text')
      .addColumn('root_cause', 'text')
      .addColumn('follow_ups', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('closed_at', 'text')
      .addColumn('closed_by', 'text')
      .execute();
    // At most one open incident per key version, even when two nodes declare at once (both dialects have partial indexes).
    await db.schema
      .createIndex('incidents_open_version')
      .unique()
      .on('incidents')
      .columns(['key_id', 'key_version'])
      .where(sql.ref('state'), '=', 'open')
      .execute();
    await db.schema.createIndex('incidents_list').on('incidents').columns(['namespace', 'declared_at', 'id']).execute();
    await db.schema.createIndex('incidents_key').on('incidents').columns(['key_id', 'state']).execute();
    await db.schema.createIndex('incidents_raise').on('incidents').columns(['state', 'raise_min_at']).execute();

    await db.schema
      .createTable('incident_steps')
      .addColumn('incident_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('position', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('incident_steps_pk', ['incident_id', 'name'])
      .execute();

    await db.schema
      .createTable('incident_acks')
      .addColumn('incident_id', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('acked_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('incident_acks_pk', ['incident_id', 'node_id'])
      .execute();

    await db.schema
      .createTable('keyward_nodes')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('last_seen_at', 'text', (c) => c.notNull())
      .execute();
  },
};
