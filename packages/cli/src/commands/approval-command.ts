import { APPROVAL_STATES, type ApprovalListQuery, type ApprovalState } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { renderApproval, renderApprovalList } from '../render/render-approval.js';

interface ListOptions {
  state?: ApprovalState;
  key?: string;
  requester?: string;
}

/**
 * `keyward approval list|show|approve|deny` (docs/governance.md, "Approvals").
 *
 * @example
 * registerApprovalCommand(program, ctx);
 */
export function registerApprovalCommand(program: Command, ctx: CommandContext): void {
  const approval = program.command('approval').description('quorum approvals of sensitive operations');

  approval
    .command('list')
    .description('approvals in your environments, newest first')
    .addOption(new Option('--state <state>', 'only this state').choices(APPROVAL_STATES))
    .option('--key <name>', 'only approvals of this key')
    .option('--requester <id>', 'only approvals this principal requested')
    .action(async (options: ListOptions, command: Command) => {
      const client = await ctx.client(command);
      const query: ApprovalListQuery = { limit: 200 };
      if (options.state !== undefined) query.state = options.state;
      if (options.key !== undefined) query.key = options.key;
      if (options.requester !== undefined) query.requester = options.requester;
      const approvals = [];
      for (;;) {
        const page = await client.listApprovals(query);
        approvals.push(...page.approvals);
        if (page.nextCursor === null) break;
        query.cursor = page.nextCursor;
      }
      ctx.print(command, { approvals }, (value) => renderApprovalList(value.approvals));
    });

  approval
    .command('show')
    .description('one approval')
    .argument('<id>', 'approval id')
    .action(async (id: string, _options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).getApproval(id), renderApproval);
    });

  for (const decision of ['approve', 'deny'] as const) {
    approval
      .command(decision)
      .description(
        decision === 'approve'
          ? 'approve (the approver role; never your own request); the approval that completes the quorum runs the operation'
          : 'deny (an approver) or withdraw (the requester): the operation will not run',
      )
      .argument('<id>', 'approval id')
      .option('--comment <text>', 'why (kept with the vote and in the audit record)')
      .action(async (id: string, options: { comment?: string }, command: Command) => {
        const client = await ctx.client(command);
        const request = options.comment === undefined ? {} : { comment: options.comment };
        ctx.print(command, await client[decision](id, request), renderApproval);
      });
  }
}
