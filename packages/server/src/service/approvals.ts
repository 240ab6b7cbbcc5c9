import { randomUUID } from 'node:crypto';
import {
  type ApprovalList,
  type ApprovalListQuery,
  type ApprovalOperation,
  type ApprovalView,
  type ExportedKey,
  type KeyClass,
  KeywardError,
  type PatchKeyRequest,
  type PendingApproval,
  type SensitiveOperation,
} from '@keyward/wire';
import { addMs, parseDuration } from '../keys/duration.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { ApprovalRecord, KeyRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import type { ByokService } from './byok-service.js';
import type { Clock } from './clock.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';
import type { KeyService } from './key-service.js';
import type { PrincipalService } from './principal-service.js';

/** Order of the classes, most valuable first: moving a key down this list is a downgrade. */
const CLASS_RANK: Readonly<Record<KeyClass, number>> = Object.freeze({ critical: 0, high: 1, standard: 2, low: 3 });

export const isDowngrade = (from: KeyClass, to: KeyClass): boolean => CLASS_RANK[to] > CLASS_RANK[from];

/**
 * The proof, passed in a CallContext, that an operation was approved by its
 * quorum: the gate then acts as the requester (re-read from the store, and
 * refused if disabled since), and the operation skips its hold for this
 * approval only. Only {@link ApprovalService} makes these, in-process; no
 * front end can.
 */
export class ApprovedExecution {
  readonly approvalId: string;
  readonly requester: string;
  readonly namespace: string;
  readonly key: string;
  readonly rule: SensitiveOperation;
  readonly approvers: readonly string[];
  readonly requesterIdentity: ApprovalRecord['requesterIdentity'];
  constructor(approval: ApprovalRecord) {
    this.approvalId = approval.id;
    this.requester = approval.requester;
    this.requesterIdentity = approval.requesterIdentity;
    this.namespace = approval.namespace;
    this.key = approval.key;
    this.rule = approval.rule;
    this.approvers = approval.approvals.map((v) => v.principal);
  }

  /** Whether this approval covers `rule` on `key`: anything else still needs its own. */
  covers(key: Pick<KeyRecord, 'namespace' | 'name'>, rule: SensitiveOperation): boolean {
    return this.namespace === key.namespace && this.key === key.name && this.rule === rule;
  }
}

/** What a hold needs to know about the operation being held. */
export interface Held {
  rule: SensitiveOperation;
  operation: ApprovalOperation;
}

/**
 * Holds a sensitive operation for quorum approval when the key's class asks
 * for one (`classes.<class>.quorum.<rule>` > 0) and the call is not already
 * the approved execution of it: writes a pending approval in `tx` and says
 * so in the call's audit record. Returns null when the operation may run now.
 * No role bypasses a quorum: admins are held like everyone else.
 */
export async function holdForApproval(
  tx: StoreOps,
  scope: Scope,
  policy: PolicySource,
  key: KeyRecord,
  held: Held,
  reason: string | null,
): Promise<PendingApproval | null> {
  const current = policy.current();
  const required = current.classes[key.class].quorum[held.rule];
  if (required === 0) return null;
  if (scope.approval?.covers(key, held.rule)) return null;
  const created = scope.now;
  const record: ApprovalRecord = {
    id: randomUUID(),
    state: 'pending',
    rule: held.rule,
    namespace: key.namespace,
    key: key.name,
    keyClass: key.class,
    environment: key.environment,
    operation: held.operation,
    requester: scope.principal.id,
    requesterIdentity: {
      kind: scope.principal.kind,
      roles: scope.principal.roles,
      environments: scope.principal.environments,
      teams: scope.principal.teams,
      via: scope.principal.via,
    },
    reason,
    required,
    approvals: [],
    denial: null,
    createdAt: created.toISOString(),
    expiresAt: addMs(created, parseDuration('approvals.ttl', current.approvals.ttl)).toISOString(),
    executedAt: null,
    error: null,
    revision: 1,
  };
  await tx.insertApproval(record);
  scope.details.approval = record.id;
  scope.details.held = `classes.${key.class}.quorum.${held.rule}`;
  return { approval: approvalView(record, created) };
}

/** The wire view: a pending approval past its expiry shows as `expired`. */
export function approvalView(record: ApprovalRecord, now: Date): ApprovalView {
  const { revision: _revision, requesterIdentity: _identity, ...view } = record;
  if (view.state === 'pending' && view.expiresAt <= now.toISOString()) view.state = 'expired';
  return view;
}

export const isPending = (result: object): result is PendingApproval => 'approval' in result;

const isExported = (value: unknown): value is ExportedKey => typeof value === 'object' && value !== null && 'wrappedKey' in value;

/** Runs an approved operation as its requester; the answer is the operation's own (a key, a grant, nothing). */
export type ApprovalRunner = (ctx: CallContext, approval: ApprovalRecord) => Promise<unknown>;

const MAX_PAGE = 200;

/**
 * Quorum approvals (docs/governance.md, "Approvals"): listing them, and the
 * votes that decide them. When the M-th distinct approver approves, the
 * approval moves to `approved` in the same transaction as that vote (only
 * one vote can make that move: updates compare the revision they read), and
 * that vote's request runs the operation as its requester, once. Its outcome
 * is recorded as `executed` or `failed`. Approvers hold the `approver` role,
 * act in the key's environment, and are never the requester; any approver
 * may deny, and the requester may withdraw.
 */
export class ApprovalService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #run: ApprovalRunner;
  readonly #clock: Clock;

  constructor(deps: { gate: Gate; store: Store; clock: Clock; run: ApprovalRunner }) {
    this.#clock = deps.clock;
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#run = deps.run;
  }

  list(ctx: CallContext, query: ApprovalListQuery): Promise<ApprovalList> {
    return this.#gate.run(ctx, 'approval.read', async (scope) => {
      scope.authorize();
      const limit = Math.min(query.limit ?? 50, MAX_PAGE);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
      const filter = {
        ...(query.key === undefined ? {} : { key: query.key }),
        ...(query.requester === undefined ? {} : { requester: query.requester }),
      };
      // `expired` is `pending` past its time in the store: ask for pending rows and sort them out here.
      const stored = query.state === 'expired' ? 'pending' : query.state;
      const visible: ApprovalView[] = [];
      let cursor = after;
      // Scan until a page of visible rows (other environments and other states are skipped).
      for (;;) {
        const rows = await this.#store.listApprovals(stored === undefined ? filter : { ...filter, state: stored }, MAX_PAGE, cursor);
        for (const row of rows) {
          if (!scope.principal.environments.includes(row.environment)) continue;
          const view = approvalView(row, scope.now);
          if (query.state !== undefined && view.state !== query.state) continue;
          visible.push(view);
          if (visible.length > limit) break;
        }
        const last = rows.at(-1);
        if (visible.length > limit || rows.length < MAX_PAGE || last === undefined) break;
        cursor = { createdAt: last.createdAt, id: last.id };
      }
      const page = visible.slice(0, limit);
      const tail = page.at(-1);
      return { approvals: page, nextCursor: visible.length > limit && tail ? encodeCursor(tail) : null };
    });
  }

  get(ctx: CallContext, id: string): Promise<ApprovalView> {
    return this.#gate.run(ctx, 'approval.read', async (scope) => {
      const record = await this.#load(id);
      scope.key = record.key;
      scope.authorize(undefined, record.environment);
      return approvalView(record, scope.now);
    });
  }

  /** Approves; the approval that completes the quorum also runs the operation and answers its outcome. */
  approve(ctx: CallContext, id: string, comment: string | null): Promise<ApprovalView> {
    return this.#vote(ctx, id, comment, 'approve');
  }

  /** Denies (an approver), or withdraws (the requester): the operation will not run. */
  deny(ctx: CallContext, id: string, comment: string | null): Promise<ApprovalView> {
    return this.#vote(ctx, id, comment, 'deny');
  }

  async #vote(ctx: CallContext, id: string, comment: string | null, decision: 'approve' | 'deny'): Promise<ApprovalView> {
    const voted = await this.#gate.run(ctx, 'approval.vote', async (scope) => {
      scope.details.approval = id;
      scope.details.decision = decision;
      if (comment !== null) scope.details.comment = comment;
      const principal = scope.principal;
      const record = await this.#store.transaction(async (tx) => {
        const current = await tx.getApproval(id);
        if (current === null) throw new KeywardError('not_found', `approval '${id}' does not exist`);
        scope.key = current.key;
        const withdrawing = decision === 'deny' && current.requester === principal.id;
        if (!withdrawing) {
          scope.authorize(undefined, current.environment);
          if (!principal.roles.includes('approver')) {
            throw new KeywardError('forbidden', `'${principal.id}' does not hold the approver role`);
          }
          if (current.requester === principal.id) {
            throw new KeywardError('forbidden', `'${principal.id}' requested this operation and cannot approve it`);
          }
        }
        const state = approvalView(current, scope.now).state;
        if (state !== 'pending') throw new KeywardError('invalid_state', `approval '${id}' is ${state}, no longer pending`);
        if (current.approvals.some((v) => v.principal === principal.id)) {
          throw new KeywardError('conflict', `'${principal.id}' already approved approval '${id}'`);
        }
        const vote = { principal: principal.id, at: scope.now.toISOString(), comment };
        const next: ApprovalRecord =
          decision === 'deny'
            ? { ...current, state: 'denied', denial: vote, revision: current.revision + 1 }
            : { ...current, approvals: [...current.approvals, vote], revision: current.revision + 1 };
        if (decision === 'approve' && next.approvals.length >= next.required) next.state = 'approved';
        await this.#update(tx, next);
        scope.details.state = next.state;
        scope.details.approvals = next.approvals.length;
        await scope.recordIn(tx);
        return next;
      });
      return { record, now: scope.now };
    });
    // The vote is durable before the operation runs: a crash in between leaves the approval
    // `approved` and the operation not run, never run twice.
    if (voted.record.state !== 'approved') return approvalView(voted.record, voted.now);
    return this.#execute(ctx, voted.record);
  }

  /** Runs the approved operation as its requester and records its outcome on the approval. */
  async #execute(ctx: CallContext, approval: ApprovalRecord): Promise<ApprovalView> {
    const execution: CallContext = { ...ctx, credential: null, namespace: approval.namespace, approved: new ApprovedExecution(approval) };
    let error: ApprovalRecord['error'] = null;
    let output: unknown = null;
    try {
      output = await this.#run(execution, approval);
    } catch (caught) {
      error =
        caught instanceof KeywardError
          ? { code: caught.code, message: caught.message }
          : { code: 'internal', message: 'the operation failed; see the server log' };
    }
    const finished: ApprovalRecord = {
      ...approval,
      state: error === null ? 'executed' : 'failed',
      executedAt: this.#clock.now().toISOString(),
      error,
      revision: approval.revision + 1,
    };
    // An export's answer is the material wrapped for the recipient the approval names: the requester reads it here.
    if (approval.operation.type === 'export' && isExported(output)) finished.result = output;
    await this.#store.transaction((tx) => this.#update(tx, finished));
    return approvalView(finished, this.#clock.now());
  }

  async #update(tx: StoreOps, record: ApprovalRecord): Promise<void> {
    if (!(await tx.updateApproval(record))) {
      throw new KeywardError('conflict', `approval '${record.id}' changed while this request read it; retry`);
    }
  }

  async #load(id: string): Promise<ApprovalRecord> {
    const record = await this.#store.getApproval(id);
    if (record === null) throw new KeywardError('not_found', `approval '${id}' does not exist`);
    return record;
  }
}

function encodeCursor(view: Pick<ApprovalView, 'createdAt' | 'id'>): string {
  return Buffer.from(`${view.createdAt}|${view.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (createdAt === undefined || id === undefined || rest.length > 0 || encodeCursor({ createdAt, id }) !== cursor) {
    throw new KeywardError('invalid_request', 'cursor: not a cursor this server issued');
  }
  return { createdAt, id };
}

/**
 * Runs an approved operation through the service that owns it, exactly as
 * it was asked (the approval holds its parameters). The call goes through
 * the gate again as the requester: authorization, validation and the audit
 * record happen as for any call.
 */
export async function runApproved(
  keys: Pick<KeyService, 'scheduleDeletion' | 'destroyVersion' | 'setEnabled' | 'patch'>,
  principals: Pick<PrincipalService, 'addGrant' | 'removeGrant'>,
  byok: Pick<ByokService, 'exportVersion'>,
  ctx: CallContext,
  approval: ApprovalRecord,
): Promise<unknown> {
  const { operation, key } = approval;
  let result: object | null;
  switch (operation.type) {
    case 'scheduleDeletion':
      result = await keys.scheduleDeletion(ctx, key, operation.days);
      break;
    case 'destroyVersion':
      result = await keys.destroyVersion(ctx, key, operation.version);
      break;
    case 'disable':
      result = await keys.setEnabled(ctx, key, false);
      break;
    case 'downgrade':
      result = await keys.patch(ctx, key, operation.patch as PatchKeyRequest);
      break;
    case 'grantCreate':
      result = await principals.addGrant(ctx, key, { principal: operation.principal, operations: operation.operations });
      break;
    case 'grantDelete':
      result = await principals.removeGrant(ctx, key, operation.grantId);
      break;
    case 'export':
      result = await byok.exportVersion(ctx, key, operation.version, { publicKey: operation.publicKey, algorithm: operation.algorithm });
      break;
  }
  if (result !== null && isPending(result)) {
    throw new KeywardError('invalid_state', `the operation now needs another approval too: '${result.approval.id}'`);
  }
  return result;
}
