import { auditRecordHash, GENESIS_HASH } from '@keyward/crypto';
import type { AuditDetail, AuditOutcome } from '@keyward/wire';
import type { Migration } from '../migrations.js';

/** The chain that records written before chaining existed are gathered into, in their original order. */
export const LEGACY_CHAIN = 'legacy';

/**
 * The tamper-evident audit trail (docs/audit.md): every record joins a
 * per-node hash chain (`chain`, `chain_seq`, `prev_hash`, `hash`), each
 * chain's head is a row of `audit_chains` (updated in the same transaction
 * as its records, so the row lock serializes one node's appends without
 * serializing the cluster), and signed checkpoints of all heads go to
 * `audit_checkpoints`. Records written before this migration are chained,
 * in their order, into the chain `legacy`.
 */
export const v6AuditChain: Migration = {
  version: 6,
  description: 'tamper-evident audit: per-node hash chains, chain heads, signed checkpoints',
  async up(db, dialect) {
    const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
    await db.schema.alterTable('audit_events').addColumn('chain', 'text').execute();
    await db.schema.alterTable('audit_events').addColumn('chain_seq', bigint).execute();
    await db.schema.alterTable('audit_events').addColumn('prev_hash', 'text').execute();
    await db.schema.alterTable('audit_events').addColumn('hash', 'text').execute();
    await db.schema
      .createTable('audit_chains')
      .addColumn('chain', 'text', (c) => c.primaryKey())
      .addColumn('seq', bigint, (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('time', 'text', (c) => c.notNull())
      .addColumn('node', 'text', (c) => c.notNull())
      .addColumn('heads', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .execute();

    let seq = 0;
    let prevHash = GENESIS_HASH;
    let after = 0;
    for (;;) {
      const rows = await db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(1000).execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        seq += 1;
        const hash = auditRecordHash({
          chain: LEGACY_CHAIN,
          seq,
          time: row.time,
          actor: row.actor,
          action: row.action,
          namespace: row.namespace,
          key: row.key_name,
          keyVersion: row.key_version,
          outcome: row.outcome as AuditOutcome,
          errorCode: row.error_code,
          requestId: row.request_id,
          source: row.source,
          details: JSON.parse(row.details) as Record<string, AuditDetail>,
          prevHash,
        });
        await db
          .updateTable('audit_events')
          .set({ chain: LEGACY_CHAIN, chain_seq: seq, prev_hash: prevHash, hash })
          .where('seq', '=', row.seq)
          .execute();
        prevHash = hash;
        after = Number(row.seq);
      }
    }
    if (seq > 0) await db.insertInto('audit_chains').values({ chain: LEGACY_CHAIN, seq, hash: prevHash }).execute();
    await db.schema.createIndex('audit_events_chain').unique().on('audit_events').columns(['chain', 'chain_seq']).execute();
  },
};
