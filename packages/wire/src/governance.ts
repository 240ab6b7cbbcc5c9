/** Owners, reviews, offboarding and quorum approvals (docs/governance.md). */
import type { ExportedKey, ExportWrappingAlgorithm } from './byok.js';
import type { SensitiveOperation } from './classes.js';
import type { Environment, KeyClass, KeyOperation } from './types.js';

/** `POST /v1/keys/{name}/review`: an owner or key administrator records that the key was reviewed. */
export interface ReviewKeyRequest {
  /** What the review found or decided (kept in the audit record). */
  note?: string;
}

/** `POST /v1/principals/{id}/offboard`. */
export interface OffboardRequest {
  /** The principal or team that takes over the keys `id` owns. */
  reassignTo: string;
  reason?: string;
}

/** What offboarding did, in one answer. */
export interface OffboardResult {
  principal: string;
  offboardedAt: string;
  reassignedTo: string;
  /** Tokens revoked (every credential the principal held). */
  tokensRevoked: number;
  /** Grants naming the principal, removed. */
  grantsRemoved: number;
  /** Keys whose owner became `reassignedTo`; each is due for review now. */
  keysReassigned: string[];
  /** Exportable keys the principal could reach, rotated because their class says so. */
  keysRotated: string[];
}

export const APPROVAL_STATES = ['pending', 'approved', 'executed', 'failed', 'denied', 'expired'] as const;
/**
 * `pending` until enough approvals (then `approved` while the operation runs,
 * `executed` or `failed` after), `denied` by any approver or withdrawn by the
 * requester, `expired` when its time ran out while pending.
 */
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** The operation an approval holds, with everything needed to run it later exactly as asked. */
export type ApprovalOperation =
  | { type: 'scheduleDeletion'; days: number | null }
  | { type: 'destroyVersion'; version: number }
  | { type: 'disable' }
  | { type: 'downgrade'; from: KeyClass; to: KeyClass; patch: Record<string, unknown> }
  | { type: 'grantCreate'; principal: string; operations: KeyOperation[] }
  | { type: 'grantDelete'; grantId: string }
  | { type: 'export'; version: number; algorithm: ExportWrappingAlgorithm; publicKey: string; recipientFingerprint: string };

export interface ApprovalVote {
  principal: string;
  at: string;
  comment: string | null;
}

export interface ApprovalView {
  id: string;
  state: ApprovalState;
  /** The class rule that asked for the quorum (`classes.<class>.quorum.<rule>`). */
  rule: SensitiveOperation;
  namespace: string;
  key: string;
  keyClass: KeyClass;
  environment: Environment;
  operation: ApprovalOperation;
  requester: string;
  reason: string | null;
  /** Distinct approvals needed. */
  required: number;
  approvals: ApprovalVote[];
  /** The denial (or the requester's withdrawal), when denied. */
  denial: ApprovalVote | null;
  createdAt: string;
  expiresAt: string;
  executedAt: string | null;
  /** Why the operation failed when it finally ran (`failed`): its error code and message. */
  error: { code: string; message: string } | null;
  /** An executed export's answer (the material wrapped for the recipient named in `operation`); absent for other operations. */
  result?: ExportedKey;
}

/** A 202 answer: the operation waits for approval. */
export interface PendingApproval {
  approval: ApprovalView;
}

export interface ApprovalList {
  approvals: ApprovalView[];
  nextCursor: string | null;
}

export interface ApprovalListQuery {
  state?: ApprovalState;
  key?: string;
  requester?: string;
  limit?: number;
  cursor?: string;
}

export interface VoteRequest {
  comment?: string;
}
