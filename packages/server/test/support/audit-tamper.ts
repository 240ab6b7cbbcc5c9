import { auditRecordHash } from '@keyward/crypto';
import type { AuditRecordView } from '@keyward/wire';
import type { TestStore } from './stores.js';

/**
 * The attacker with write access to the database: reads and rewrites audit
 * rows with plain SQL, the way someone who stole the database credentials
 * would, so the tests prove what the chain detects rather than assume it.
 */

/** One chain's rows as the public record shape, in chain order. */
export async function chainRows(store: TestStore, chain: string): Promise<AuditRecordView[]> {
  const rows = await store.raw('SELECT * FROM audit_events WHERE chain = ? ORDER BY chain_seq', [chain]);
  return rows.map((r) => ({
    chain: String(r.chain),
    seq: Number(r.chain_seq),
    time: String(r.time),
    actor: r.actor === null ? null : String(r.actor),
    action: String(r.action),
    namespace: r.namespace === null ? null : String(r.namespace),
    key: r.key_name === null ? null : String(r.key_name),
    keyVersion: r.key_version === null ? null : Number(r.key_version),
    outcome: String(r.outcome) as AuditRecordView['outcome'],
    errorCode: r.error_code === null ? null : String(r.error_code),
    requestId: String(r.request_id),
    source: String(r.source),
    details: JSON.parse(String(r.details)) as AuditRecordView['details'],
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  }));
}

/** Rewrites one record's content and hash in place (keeping its position). */
export async function writeRow(store: TestStore, record: AuditRecordView): Promise<void> {
  await store.raw('UPDATE audit_events SET actor = ?, action = ?, details = ?, prev_hash = ?, hash = ? WHERE chain = ? AND chain_seq = ?', [
    record.actor,
    record.action,
    JSON.stringify(record.details),
    record.prevHash,
    record.hash,
    record.chain,
    record.seq,
  ]);
}

/** Inserts a record row as the audit log would. */
export async function insertRow(store: TestStore, r: AuditRecordView): Promise<void> {
  await store.raw(
    `INSERT INTO audit_events (time, actor, action, namespace, key_name, key_version, outcome, error_code, request_id, source, details, chain, chain_seq, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      r.time,
      r.actor,
      r.action,
      r.namespace,
      r.key,
      r.keyVersion,
      r.outcome,
      r.errorCode,
      r.requestId,
      r.source,
      JSON.stringify(r.details),
      r.chain,
      r.seq,
      r.prevHash,
      r.hash,
    ],
  );
}

/** Moves records at or after `from` by `by` positions (in two steps, so unique positions never collide). */
export async function shiftRows(store: TestStore, chain: string, from: number, by: number): Promise<void> {
  await store.raw('UPDATE audit_events SET chain_seq = -chain_seq WHERE chain = ? AND chain_seq >= ?', [chain, from]);
  await store.raw('UPDATE audit_events SET chain_seq = -chain_seq + ? WHERE chain = ? AND chain_seq < 0', [by, chain]);
}

/** Recomputes the hashes of `records` (in order) from `prevHash`, as an attacker covering an edit would. */
export function rehash(records: readonly AuditRecordView[], prevHash: string): AuditRecordView[] {
  const out: AuditRecordView[] = [];
  let prev = prevHash;
  for (const record of records) {
    const { hash: _, ...rest } = { ...record, prevHash: prev };
    const hash = auditRecordHash(rest);
    out.push({ ...rest, hash });
    prev = hash;
  }
  return out;
}

/** Points a chain's stored head at `seq`/`hash` (covering a truncation). */
export async function setHead(store: TestStore, chain: string, seq: number, hash: string): Promise<void> {
  await store.raw('UPDATE audit_chains SET seq = ?, hash = ? WHERE chain = ?', [seq, hash, chain]);
}

/** Makes every insert into the audit table fail, as a full disk or a revoked grant would. */
export async function makeAuditUnwritable(store: TestStore): Promise<void> {
  if (store.kind === 'sqlite') {
    await store.raw("CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit unwritable'); END");
  } else {
    await store.raw(
      "CREATE OR REPLACE FUNCTION audit_unwritable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unwritable'; END $$",
    );
    await store.raw('CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_unwritable()');
  }
}

export async function makeAuditWritable(store: TestStore): Promise<void> {
  await store.raw(store.kind === 'sqlite' ? 'DROP TRIGGER audit_unwritable' : 'DROP TRIGGER audit_unwritable ON audit_events');
}
