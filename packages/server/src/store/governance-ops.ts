import type { Kysely } from 'kysely';
import type { ApprovalFilter, ApprovalRecord, PrincipalRecord } from './records.js';
import type { Database } from './schema.js';

/**
 * Governance store operations (GovernanceStoreOps): offboarding and quorum
 * approvals, as functions over a Kysely instance or transaction; KyselyOps
 * delegates to them. Identical SQL for both dialects.
 */

type Db = Kysely<Database>;

/** Store operations for owners, offboarding and approvals (docs/governance.md). */
export interface GovernanceStoreOps {
  /** Writes a principal's `disabled` and `offboardedAt`; false when there is no such principal. */
  updatePrincipalStatus(id: string, status: Pick<PrincipalRecord, 'disabled' | 'offboardedAt'>): Promise<boolean>;
  /** Revokes every unrevoked token of a principal at `at`; returns their ids. */
  revokePrincipalTokens(principalId: string, at: string): Promise<string[]>;
  /** Deletes every grant naming `principal` (on any key); returns how many. */
  deleteGrantsOf(principal: string): Promise<number>;
  /** Ids of the keys with a grant naming `principal` (any operation). */
  keysGrantedTo(principal: string): Promise<string[]>;

  insertApproval(approval: ApprovalRecord): Promise<void>;
  getApproval(id: string): Promise<ApprovalRecord | null>;
  /**
   * Replaces an approval if its stored revision is still `approval.revision - 1`;
   * false when another change came first (the caller re-reads and decides again).
   */
  updateApproval(approval: ApprovalRecord): Promise<boolean>;
  /** Newest first, strictly older than the approval `after` names (created_at, id). */
  listApprovals(filter: ApprovalFilter, limit: number, after: { createdAt: string; id: string } | null): Promise<ApprovalRecord[]>;
}

const toRow = (a: ApprovalRecord) => ({
  id: a.id,
  state: a.state,
  namespace: a.namespace,
  key_name: a.key,
  requester: a.requester,
  created_at: a.createdAt,
  expires_at: a.expiresAt,
  revision: a.revision,
  body: JSON.stringify(a),
});

const fromRow = (row: { body: string; revision: number | string }): ApprovalRecord => ({
  ...(JSON.parse(row.body) as ApprovalRecord),
  revision: Number(row.revision),
});

export async function updatePrincipalStatus(
  db: Db,
  id: string,
  status: Pick<PrincipalRecord, 'disabled' | 'offboardedAt'>,
): Promise<boolean> {
  const result = await db
    .updateTable('principals')
    .set({ disabled: status.disabled ? 1 : 0, offboarded_at: status.offboardedAt })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function revokePrincipalTokens(db: Db, principalId: string, at: string): Promise<string[]> {
  const rows = await db
    .selectFrom('tokens')
    .select('id')
    .where('principal_id', '=', principalId)
    .where('revoked_at', 'is', null)
    .orderBy('id')
    .execute();
  if (rows.length === 0) return [];
  await db.updateTable('tokens').set({ revoked_at: at }).where('principal_id', '=', principalId).where('revoked_at', 'is', null).execute();
  return rows.map((r) => r.id);
}

export async function deleteGrantsOf(db: Db, principal: string): Promise<number> {
  const result = await db.deleteFrom('grants').where('principal', '=', principal).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function keysGrantedTo(db: Db, principal: string): Promise<string[]> {
  const rows = await db.selectFrom('grants').select('key_id').distinct().where('principal', '=', principal).orderBy('key_id').execute();
  return rows.map((r) => r.key_id);
}

export async function insertApproval(db: Db, approval: ApprovalRecord): Promise<void> {
  await db.insertInto('approvals').values(toRow(approval)).execute();
}

export async function getApproval(db: Db, id: string): Promise<ApprovalRecord | null> {
  const row = await db.selectFrom('approvals').select(['body', 'revision']).where('id', '=', id).executeTakeFirst();
  return row === undefined ? null : fromRow(row);
}

export async function updateApproval(db: Db, approval: ApprovalRecord): Promise<boolean> {
  const { id, ...row } = toRow(approval);
  const result = await db
    .updateTable('approvals')
    .set(row)
    .where('id', '=', id)
    .where('revision', '=', approval.revision - 1)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function listApprovals(
  db: Db,
  filter: ApprovalFilter,
  limit: number,
  after: { createdAt: string; id: string } | null,
): Promise<ApprovalRecord[]> {
  let query = db.selectFrom('approvals').select(['body', 'revision']);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.key !== undefined) query = query.where('key_name', '=', filter.key);
  if (filter.requester !== undefined) query = query.where('requester', '=', filter.requester);
  if (after !== null) {
    const { createdAt, id } = after;
    query = query.where(({ or, and, eb }) =>
      or([eb('created_at', '<', createdAt), and([eb('created_at', '=', createdAt), eb('id', '<', id)])]),
    );
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(fromRow);
}
