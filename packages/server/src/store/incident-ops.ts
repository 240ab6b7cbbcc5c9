import type { BlastRadiusReport, IncidentFollowUp, IncidentState, IncidentStepName, IncidentStepState, IncidentType } from '@keyward/wire';
import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  IncidentAckRecord,
  IncidentChange,
  IncidentCursor,
  IncidentFilter,
  IncidentRecord,
  IncidentStepRecord,
  NodeRecord,
  RecoveryCounts,
  VersionActivityQuery,
  VersionActivityRow,
} from './incident-records.js';
import type { IncidentTable } from './incident-schema.js';
import type { Database } from './schema.js';
import { StoreConflictError } from './store.js';

/**
 * The incident store operations (IncidentStoreOps) as functions over a
 * Kysely instance or transaction; KyselyOps delegates to them. Identical SQL
 * for both dialects.
 */

type Db = Kysely<Database>;

function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: unknown };
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function incidentFromRow(r: Selectable<IncidentTable>): IncidentRecord {
  return {
    id: r.id,
    type: r.type as IncidentType,
    state: r.state as IncidentState,
    namespace: r.namespace,
    keyName: r.key_name,
    keyId: r.key_id,
    version: r.key_version,
    reason: r.reason,
    declaredBy: r.declared_by,
    declaredAt: r.declared_at,
    origin: r.origin as IncidentRecord['origin'],
    alertId: r.alert_id,
    alertType: r.alert_type,
    requestId: r.request_id,
    rotatedTo: r.rotated_to,
    rekeyedAt: r.rekeyed_at,
    expectedNodes: JSON.parse(r.expected_nodes) as string[],
    ackTimeoutMs: r.ack_timeout_ms,
    containTimedOut: r.contain_timed_out === 1,
    raiseMinAfter: r.raise_min_after,
    raiseMinAt: r.raise_min_at,
    minRaisedAt: r.min_raised_at,
    recoveryWaiver: r.recovery_waiver,
    blastRadius: json<BlastRadiusReport>(r.blast_radius),
    recoverySnapshot: json<RecoveryCounts>(r.recovery_snapshot),
    rootCause: r.root_cause,
    followUps: JSON.parse(r.follow_ups) as IncidentFollowUp[],
    updatedAt: r.updated_at,
    closedAt: r.closed_at,
    closedBy: r.closed_by,
  };
}

function changeToRow(change: IncidentChange): Partial<IncidentTable> {
  const row: Partial<IncidentTable> = { updated_at: change.updatedAt };
  if (change.state !== undefined) row.state = change.state;
  if (change.containTimedOut !== undefined) row.contain_timed_out = change.containTimedOut ? 1 : 0;
  if (change.raiseMinAt !== undefined) row.raise_min_at = change.raiseMinAt;
  if (change.minRaisedAt !== undefined) row.min_raised_at = change.minRaisedAt;
  if (change.recoveryWaiver !== undefined) row.recovery_waiver = change.recoveryWaiver;
  if (change.blastRadius !== undefined) row.blast_radius = change.blastRadius === null ? null : JSON.stringify(change.blastRadius);
  if (change.recoverySnapshot !== undefined) {
    row.recovery_snapshot = change.recoverySnapshot === null ? null : JSON.stringify(change.recoverySnapshot);
  }
  if (change.rootCause !== undefined) row.root_cause = change.rootCause;
  if (change.followUps !== undefined) row.follow_ups = JSON.stringify(change.followUps);
  if (change.closedAt !== undefined) row.closed_at = change.closedAt;
  if (change.closedBy !== undefined) row.closed_by = change.closedBy;
  return row;
}

export async function insertIncident(db: Db, i: IncidentRecord): Promise<void> {
  try {
    await db
      .insertInto('incidents')
      .values({
        id: i.id,
        type: i.type,
        state: i.state,
        namespace: i.namespace,
        key_name: i.keyName,
        key_id: i.keyId,
        key_version: i.version,
        reason: i.reason,
        declared_by: i.declaredBy,
        declared_at: i.declaredAt,
        origin: i.origin,
        alert_id: i.alertId,
        alert_type: i.alertType,
        request_id: i.requestId,
        rotated_to: i.rotatedTo,
        rekeyed_at: i.rekeyedAt,
        expected_nodes: JSON.stringify(i.expectedNodes),
        ack_timeout_ms: i.ackTimeoutMs,
        contain_timed_out: i.containTimedOut ? 1 : 0,
        raise_min_after: i.raiseMinAfter,
        raise_min_at: i.raiseMinAt,
        min_raised_at: i.minRaisedAt,
        recovery_waiver: i.recoveryWaiver,
        blast_radius: i.blastRadius === null ? null : JSON.stringify(i.blastRadius),
        recovery_snapshot: i.recoverySnapshot === null ? null : JSON.stringify(i.recoverySnapshot),
        root_cause: i.rootCause,
        follow_ups: JSON.stringify(i.followUps),
        updated_at: i.updatedAt,
        closed_at: i.closedAt,
        closed_by: i.closedBy,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new StoreConflictError(`an incident is already open for version ${i.version} of key '${i.keyName}'`);
    }
    throw error;
  }
}

export async function getIncident(db: Db, id: string): Promise<IncidentRecord | null> {
  const row = await db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? incidentFromRow(row) : null;
}

export async function updateIncident(db: Db, id: string, change: IncidentChange): Promise<boolean> {
  const result = await db.updateTable('incidents').set(changeToRow(change)).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function listIncidents(
  db: Db,
  filter: IncidentFilter,
  limit: number,
  after: IncidentCursor | null,
): Promise<IncidentRecord[]> {
  let query = db.selectFrom('incidents').selectAll().where('namespace', '=', filter.namespace);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.keyName !== undefined) query = query.where('key_name', '=', filter.keyName);
  if (after !== null) {
    query = query.where(({ eb, or, and }) =>
      or([eb('declared_at', '<', after.declaredAt), and([eb('declared_at', '=', after.declaredAt), eb('id', '<', after.id)])]),
    );
  }
  const rows = await query.orderBy('declared_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(incidentFromRow);
}

export async function listOpenIncidents(db: Db, keyId: string | null, limit: number): Promise<IncidentRecord[]> {
  let query = db.selectFrom('incidents').selectAll().where('state', '=', 'open');
  if (keyId !== null) query = query.where('key_id', '=', keyId);
  const rows = await query.orderBy('declared_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(incidentFromRow);
}

export async function incidentsDueForRaise(db: Db, now: string, limit: number): Promise<IncidentRecord[]> {
  const rows = await db
    .selectFrom('incidents')
    .selectAll()
    .where('state', '=', 'open')
    .where('raise_min_at', '<=', now)
    .orderBy('raise_min_at')
    .limit(limit)
    .execute();
  return rows.map(incidentFromRow);
}

export async function putIncidentStep(db: Db, s: IncidentStepRecord): Promise<void> {
  const row = {
    position: s.position,
    state: s.state,
    started_at: s.startedAt,
    finished_at: s.finishedAt,
    outcome: s.outcome,
    details: JSON.stringify(s.details),
  };
  await db
    .insertInto('incident_steps')
    .values({ incident_id: s.incidentId, name: s.name, ...row })
    .onConflict((oc) => oc.columns(['incident_id', 'name']).doUpdateSet(row))
    .execute();
}

export async function listIncidentSteps(db: Db, incidentIds: readonly string[]): Promise<IncidentStepRecord[]> {
  if (incidentIds.length === 0) return [];
  const rows = await db
    .selectFrom('incident_steps')
    .selectAll()
    .where('incident_id', 'in', [...incidentIds])
    .orderBy('incident_id')
    .orderBy('position')
    .execute();
  return rows.map((r) => ({
    incidentId: r.incident_id,
    name: r.name as IncidentStepName,
    position: r.position,
    state: r.state as IncidentStepState,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome,
    details: JSON.parse(r.details) as IncidentStepRecord['details'],
  }));
}

export async function ackIncident(db: Db, ack: IncidentAckRecord): Promise<void> {
  await db
    .insertInto('incident_acks')
    .values({ incident_id: ack.incidentId, node_id: ack.node, acked_at: ack.ackedAt })
    .onConflict((oc) => oc.columns(['incident_id', 'node_id']).doNothing())
    .execute();
}

export async function listIncidentAcks(db: Db, incidentIds: readonly string[]): Promise<IncidentAckRecord[]> {
  if (incidentIds.length === 0) return [];
  const rows = await db
    .selectFrom('incident_acks')
    .selectAll()
    .where('incident_id', 'in', [...incidentIds])
    .orderBy('incident_id')
    .orderBy('acked_at')
    .orderBy('node_id')
    .execute();
  return rows.map((r) => ({ incidentId: r.incident_id, node: r.node_id, ackedAt: r.acked_at }));
}

export async function heartbeatNode(db: Db, node: NodeRecord): Promise<void> {
  await db
    .insertInto('keyward_nodes')
    .values({ node_id: node.id, started_at: node.startedAt, last_seen_at: node.lastSeenAt })
    .onConflict((oc) => oc.column('node_id').doUpdateSet({ last_seen_at: node.lastSeenAt }))
    .execute();
}

export async function removeNode(db: Db, id: string): Promise<void> {
  await db.deleteFrom('keyward_nodes').where('node_id', '=', id).execute();
}

export async function liveNodes(db: Db, since: string): Promise<NodeRecord[]> {
  const rows = await db.selectFrom('keyward_nodes').selectAll().where('last_seen_at', '>=', since).orderBy('node_id').execute();
  return rows.map((r) => ({ id: r.node_id, startedAt: r.started_at, lastSeenAt: r.last_seen_at }));
}

interface ActivityRow {
  actor: string | null;
  source: string;
  action: string;
  outcome: string;
  error_code: string | null;
  direction: string;
  phase: string;
  count: number | string;
  first_at: string;
  last_at: string;
}

/**
 * One grouped scan of the key's audit records (index `audit_events_key_usage`
 * on namespace, key name, time). A rewrap names the version it wrote
 * (`key_version`) and the one it read in its details (`fromVersion`), so the
 * records that read the version are found by the serialized detail; a
 * number followed by `,` or `}` cannot match a longer number.
 */
export async function versionActivity(db: Db, q: VersionActivityQuery): Promise<VersionActivityRow[]> {
  const v = q.version;
  const direction = sql`case when key_version = ${v} then 'to' else 'from' end`;
  const phase = sql`case when time < ${q.boundary} then 'before' else 'after' end`;
  // GROUP BY positions: PostgreSQL would not see two parameterized CASE expressions as the same.
  const result = await sql<ActivityRow>`
    select actor, source, action, outcome, error_code, ${direction} as direction, ${phase} as phase,
      count(*) as count, min(time) as first_at, max(time) as last_at
    from audit_events
    where namespace = ${q.namespace} and key_name = ${q.keyName} and time >= ${q.from}
      and action like 'crypto.%'
      and (key_version = ${v}
        or (action = 'crypto.rewrap' and outcome = 'success'
          and (details like ${`%"fromVersion":${v},%`} or details like ${`%"fromVersion":${v}}%`})))
    group by 1, 2, 3, 4, 5, 6, 7
    order by 1, 2, 3, 4, 5, 6, 7`.execute(db);
  return result.rows.map((r) => ({
    actor: r.actor,
    source: r.source,
    operation: r.action.slice('crypto.'.length),
    outcome: r.outcome as VersionActivityRow['outcome'],
    errorCode: r.error_code,
    direction: r.direction as VersionActivityRow['direction'],
    phase: r.phase as VersionActivityRow['phase'],
    count: Number(r.count),
    firstAt: r.first_at,
    lastAt: r.last_at,
  }));
}
