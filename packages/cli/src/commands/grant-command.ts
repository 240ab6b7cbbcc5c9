import type { KeywardClient } from '@keyward/client';
import { type GrantView, KEY_OPERATIONS, type KeyOperation } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { collectChoice } from '../option-parsers.js';
import { orPending } from '../render/render-approval.js';

/**
 * `keyward grant add|list|remove`.
 *
 * @example
 * registerGrantCommand(program, ctx);
 */
export function registerGrantCommand(program: Command, ctx: CommandContext): void {
  const grant = program.command('grant').description('allow principals cryptographic operations on a key');

  grant
    .command('add')
    .description('grant operations on a key to a principal (a team grants to every member)')
    .argument('<key>', 'key name')
    .requiredOption('--principal <id>', 'principal id')
    .addOption(
      new Option('--operation <op>', `operation (repeatable): ${KEY_OPERATIONS.join(', ')}`)
        .argParser(collectChoice(KEY_OPERATIONS))
        .makeOptionMandatory(),
    )
    .action(async (key: string, options: { principal: string; operation: KeyOperation[] }, command: Command) => {
      const client = await ctx.client(command);
      const created = await client.addGrant(key, { principal: options.principal, operations: options.operation });
      ctx.print(command, created, orPending(renderGrant));
    });

  grant
    .command('list')
    .description('list the grants of a key')
    .argument('<key>', 'key name')
    .action(async (key: string, _options: object, command: Command) => {
      const grants = await allGrants(await ctx.client(command), key);
      ctx.print(command, { grants }, (value) => renderGrantList(value.grants));
    });

  grant
    .command('remove')
    .description('remove a grant by its id')
    .argument('<key>', 'key name')
    .argument('<grant-id>', 'grant id, as printed by grant add or grant list')
    .action(async (key: string, grantId: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      const pending = await client.removeGrant(key, grantId);
      if (pending !== undefined)
        ctx.print(
          command,
          pending,
          orPending(() => ''),
        );
      else ctx.print(command, { id: grantId, removed: true }, () => `removed grant ${grantId} from ${key}\n`);
    });
}

async function allGrants(client: KeywardClient, key: string): Promise<GrantView[]> {
  const grants: GrantView[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.listGrants(key, cursor === null ? {} : { cursor });
    grants.push(...page.grants);
    cursor = page.nextCursor ?? null;
  } while (cursor !== null);
  return grants;
}

function renderGrant(grant: GrantView): string {
  return formatDetails([
    ['Grant ID', grant.id],
    ['Key', grant.key],
    ['Principal', grant.principal],
    ['Operations', grant.operations.join(',')],
    ['Created', grant.createdAt],
    ['Created by', grant.createdBy],
  ]);
}

function renderGrantList(grants: readonly GrantView[]): string {
  if (grants.length === 0) return 'no grants\n';
  return formatTable(
    ['ID', 'PRINCIPAL', 'OPERATIONS', 'CREATED', 'CREATED BY'],
    grants.map((g) => [g.id, g.principal, g.operations.join(','), g.createdAt, g.createdBy]),
  );
}
