import type { AlertEvidence, AlertSeverity, AlertState, AlertType } from '@keyward/wire';
import type { Kysely, Selectable } from 'kysely';
import type { AlertCursor, AlertFilter, AlertRecord, DetectorStateRow, StoredAlert } from './alert-records.js';
import type { AlertTable } from './alert-schema.js';
import type { Database } from './schema.js';

/**
 * The alert tables' SQL (identical for both dialects), as functions over a
 * Kysely instance or transaction; KyselyStore delegates to these so the
 * store stays one interface without growing one file past reading.
 */

/** Rows per statement when writing or looking up many at once (well under both dialects' parameter limits). */
const CHUNK = 200;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function alertFromRow(r: Selectable<AlertTable>): StoredAlert {
  return {
    seq: Number(r.seq),
    id: r.id,
    type: r.type as AlertType,
    severity: r.severity as AlertSeverity,
    state: r.state as AlertState,
    dedupKey: r.dedup_key,
    subject: { namespace: r.namespace, key: r.key_name, version: r.key_version, principal: r.principal, source: r.source },
    summary: r.summary,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    count: Number(r.count),
    evidence: JSON.parse(r.evidence) as AlertEvidence,
    nextSteps: JSON.parse(r.next_steps) as string[],
    raisedAt: r.raised_at,
    updatedAt: r.updated_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
    acknowledgeNote: r.acknowledge_note,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolveNote: r.resolve_note,
  };
}

function alertToRow(a: AlertRecord): Omit<AlertTable, 'seq'> {
  return {
    id: a.id,
    type: a.type,
    severity: a.severity,
    state: a.state,
    dedup_key: a.dedupKey,
    namespace: a.subject.namespace,
    key_name: a.subject.key,
    key_version: a.subject.version,
    principal: a.subject.principal,
    source: a.subject.source,
    summary: a.summary,
    first_seen: a.firstSeen,
    last_seen: a.lastSeen,
    count: a.count,
    evidence: JSON.stringify(a.evidence),
    next_steps: JSON.stringify(a.nextSteps),
    raised_at: a.raisedAt,
    updated_at: a.updatedAt,
    acknowledged_at: a.acknowledgedAt,
    acknowledged_by: a.acknowledgedBy,
    acknowledge_note: a.acknowledgeNote,
    resolved_at: a.resolvedAt,
    resolved_by: a.resolvedBy,
    resolve_note: a.resolveNote,
  };
}

export async function insertAlert(db: Kysely<Database>, alert: AlertRecord): Promise<void> {
  await db.insertInto('alerts').values(alertToRow(alert)).execute();
}

export async function updateAlert(db: Kysely<Database>, alert: AlertRecord): Promise<void> {
  const { id, ...row } = alertToRow(alert);
  await db.updateTable('alerts').set(row).where('id', '=', id).execute();
}

export async function getAlert(db: Kysely<Database>, id: string): Promise<StoredAlert | null> {
  const row = await db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? alertFromRow(row) : null;
}

export async function findUnresolvedAlerts(db: Kysely<Database>, dedupKeys: readonly string[]): Promise<StoredAlert[]> {
  const found: StoredAlert[] = [];
  for (const part of chunks([...new Set(dedupKeys)])) {
    const rows = await db.selectFrom('alerts').selectAll().where('dedup_key', 'in', part).where('state', '<>', 'resolved').execute();
    found.push(...rows.map(alertFromRow));
  }
  return found;
}

export async function listAlerts(
  db: Kysely<Database>,
  filter: AlertFilter,
  limit: number,
  beforeSeq: number | null,
): Promise<StoredAlert[]> {
  let query = db.selectFrom('alerts').selectAll();
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.type !== undefined) query = query.where('type', '=', filter.type);
  if (filter.namespace !== undefined) query = query.where('namespace', '=', filter.namespace);
  if (filter.key !== undefined) query = query.where('key_name', '=', filter.key);
  if (beforeSeq !== null) query = query.where('seq', '<', beforeSeq);
  const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
  return rows.map(alertFromRow);
}

export async function countAlerts(db: Kysely<Database>, state: AlertState): Promise<Array<{ type: AlertType; count: number }>> {
  const rows = await db
    .selectFrom('alerts')
    .select((eb) => ['type', eb.fn.countAll<number | string>().as('count')])
    .where('state', '=', state)
    .groupBy('type')
    .orderBy('type')
    .execute();
  return rows.map((r) => ({ type: r.type as AlertType, count: Number(r.count) }));
}

export async function listAlertCursors(db: Kysely<Database>): Promise<AlertCursor[]> {
  const rows = await db.selectFrom('alert_cursors').selectAll().orderBy('chain').execute();
  return rows.map((r) => ({ chain: r.chain, chainSeq: Number(r.chain_seq) }));
}

export async function saveAlertCursors(db: Kysely<Database>, cursors: readonly AlertCursor[]): Promise<void> {
  for (const part of chunks(cursors)) {
    await db
      .insertInto('alert_cursors')
      .values(part.map((c) => ({ chain: c.chain, chain_seq: c.chainSeq })))
      .onConflict((oc) => oc.column('chain').doUpdateSet((eb) => ({ chain_seq: eb.ref('excluded.chain_seq') })))
      .execute();
  }
}

export async function getDetectorStates(db: Kysely<Database>, detector: string, subjects: readonly string[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const part of chunks([...new Set(subjects)])) {
    const rows = await db
      .selectFrom('alert_states')
      .select(['subject', 'state'])
      .where('detector', '=', detector)
      .where('subject', 'in', part)
      .execute();
    for (const r of rows) states.set(r.subject, r.state);
  }
  return states;
}

export async function putDetectorStates(
  db: Kysely<Database>,
  detector: string,
  rows: readonly DetectorStateRow[],
  at: string,
): Promise<void> {
  const gone = rows.filter((r) => r.state === null).map((r) => r.subject);
  const kept = rows.filter((r): r is { subject: string; state: string } => r.state !== null);
  for (const part of chunks(gone)) {
    await db.deleteFrom('alert_states').where('detector', '=', detector).where('subject', 'in', part).execute();
  }
  for (const part of chunks(kept)) {
    await db
      .insertInto('alert_states')
      .values(part.map((r) => ({ detector, subject: r.subject, state: r.state, updated_at: at })))
      .onConflict((oc) =>
        oc
          .columns(['detector', 'subject'])
          .doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), updated_at: eb.ref('excluded.updated_at') })),
      )
      .execute();
  }
}

export async function pruneDetectorStates(db: Kysely<Database>, detector: string, before: string): Promise<number> {
  const result = await db.deleteFrom('alert_states').where('detector', '=', detector).where('updated_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
