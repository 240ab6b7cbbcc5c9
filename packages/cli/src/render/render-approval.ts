import { isPendingApproval } from '@keyward/client';
import type { ApprovalOperation, ApprovalView, OffboardResult } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';

/** The held operation in words: `destroy version 1`, `downgrade critical → standard`. */
export function describeOperation(operation: ApprovalOperation): string {
  switch (operation.type) {
    case 'scheduleDeletion':
      return operation.days === null ? 'schedule deletion' : `schedule deletion in ${operation.days} days`;
    case 'destroyVersion':
      return `destroy version ${operation.version}`;
    case 'disable':
      return 'disable';
    case 'downgrade':
      return `downgrade ${operation.from} -> ${operation.to}`;
    case 'grantCreate':
      return `grant ${operation.operations.join(',')} to ${operation.principal}`;
    case 'grantDelete':
      return `remove grant ${operation.grantId}`;
    case 'export':
      return `export version ${operation.version} (${operation.algorithm}) to ${operation.recipientFingerprint}`;
  }
}

/**
 * One approval: what it holds, who asked, who voted, and how it ended.
 *
 * @example
 * io.stdout.write(renderApproval(await client.getApproval(id)));
 */
export function renderApproval(approval: ApprovalView): string {
  const votes = approval.approvals.map((v) => `${v.principal} at ${v.at}${v.comment === null ? '' : ` (${v.comment})`}`);
  return formatDetails([
    ['ID', approval.id],
    ['State', approval.state],
    ['Operation', `${describeOperation(approval.operation)} on ${approval.namespace}/${approval.key}`],
    ['Rule', `classes.${approval.keyClass}.quorum.${approval.rule}`],
    ['Environment', approval.environment],
    ['Requester', approval.requester],
    ['Approvals', `${approval.approvals.length} of ${approval.required}${votes.length === 0 ? '' : `: ${votes.join('; ')}`}`],
    ['Denied by', approval.denial === null ? '-' : `${approval.denial.principal} at ${approval.denial.at}`],
    ['Created', approval.createdAt],
    ['Expires', approval.expiresAt],
    ['Executed', approval.executedAt ?? '-'],
    ['Error', approval.error === null ? '-' : `${approval.error.code}: ${approval.error.message}`],
  ]);
}

/**
 * Approvals as a table.
 *
 * @example
 * io.stdout.write(renderApprovalList(approvals));
 */
export function renderApprovalList(approvals: readonly ApprovalView[]): string {
  if (approvals.length === 0) return 'no approvals\n';
  return formatTable(
    ['ID', 'STATE', 'KEY', 'OPERATION', 'REQUESTER', 'VOTES', 'EXPIRES'],
    approvals.map((a) => [
      a.id,
      a.state,
      a.key,
      describeOperation(a.operation),
      a.requester,
      `${a.approvals.length}/${a.required}`,
      a.expiresAt,
    ]),
  );
}

/**
 * A renderer for an operation a quorum may hold: the approval it waits for,
 * with what to do next, or the operation's own answer.
 *
 * @example
 * ctx.print(command, await client.destroyVersion(name, 1), orPending(renderKey));
 */
export function orPending<T extends object>(render: (value: T) => string): (value: unknown) => string {
  return (value) => {
    if (!isPendingApproval(value)) return render(value as T);
    const { approval } = value;
    return `held for approval: ${approval.required} approver(s) must approve before it runs\n${renderApproval(approval)}approve with: keyward approval approve ${approval.id}\n`;
  };
}

/**
 * What offboarding did.
 *
 * @example
 * io.stdout.write(renderOffboard(await client.offboardPrincipal('alice', { reassignTo: 'team-x' })));
 */
export function renderOffboard(result: OffboardResult): string {
  const names = (values: readonly string[]) => (values.length === 0 ? '-' : values.join(', '));
  return formatDetails([
    ['Principal', result.principal],
    ['Offboarded', result.offboardedAt],
    ['Reassigned to', result.reassignedTo],
    ['Tokens revoked', String(result.tokensRevoked)],
    ['Grants removed', String(result.grantsRemoved)],
    ['Keys reassigned', names(result.keysReassigned)],
    ['Keys rotated', names(result.keysRotated)],
  ]);
}
