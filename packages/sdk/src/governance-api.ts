import type {
  ApprovalList,
  ApprovalListQuery,
  ApprovalView,
  OffboardRequest,
  OffboardResult,
  PendingApproval,
  VoteRequest,
} from '@keyward/wire';
import { apiPath } from './api-path.js';
import { IncidentsApi } from './incidents-api.js';
import { pickDefined } from './pick-defined.js';

/**
 * Whether an answer is a pending approval (`202 {"approval": …}`): the
 * operation waits for its quorum instead of having run.
 *
 * @example
 * const result = await client.destroyVersion('payments-db', 1);
 * if (isPendingApproval(result)) console.log(`waiting for approval ${result.approval.id}`);
 */
export function isPendingApproval(result: unknown): result is PendingApproval {
  return typeof result === 'object' && result !== null && 'approval' in result;
}

/** Offboarding and quorum approvals (docs/governance.md). */
export class GovernanceApi extends IncidentsApi {
  /**
   * Offboards a principal: every token revoked, its grants removed, its keys
   * handed to `reassignTo` (review due now), exportable keys it could reach
   * rotated where the class says so.
   *
   * @example
   * const result = await client.offboardPrincipal('alice', { reassignTo: 'team-payments' });
   */
  offboardPrincipal(id: string, request: OffboardRequest): Promise<OffboardResult> {
    return this.transport.request<OffboardResult>('POST', apiPath`/principals/${id}/offboard`, {
      body: pickDefined(request, ['reassignTo', 'reason']),
    });
  }

  /**
   * One page of approvals in the caller's environments, newest first.
   *
   * @example
   * const { approvals } = await client.listApprovals({ state: 'pending' });
   */
  listApprovals(query: ApprovalListQuery = {}): Promise<ApprovalList> {
    return this.transport.request<ApprovalList>('GET', '/approvals', {
      query: pickDefined(query, ['state', 'key', 'requester', 'limit', 'cursor']),
    });
  }

  /**
   * One approval.
   *
   * @example
   * const approval = await client.getApproval(id);
   */
  getApproval(id: string): Promise<ApprovalView> {
    return this.transport.request<ApprovalView>('GET', apiPath`/approvals/${id}`);
  }

  /**
   * Approves (the `approver` role, never the requester). The approval that
   * completes the quorum runs the operation: the answer is then `executed`
   * or `failed` (with the operation's error).
   *
   * @example
   * const approval = await client.approve(id, { comment: 'ticket SEC-42' });
   */
  approve(id: string, request: VoteRequest = {}): Promise<ApprovalView> {
    return this.transport.request<ApprovalView>('POST', apiPath`/approvals/${id}/approve`, { body: pickDefined(request, ['comment']) });
  }

  /**
   * Denies (an approver) or withdraws (the requester): the operation will not run.
   *
   * @example
   * await client.deny(id, { comment: 'no change ticket' });
   */
  deny(id: string, request: VoteRequest = {}): Promise<ApprovalView> {
    return this.transport.request<ApprovalView>('POST', apiPath`/approvals/${id}/deny`, { body: pickDefined(request, ['comment']) });
  }
}
