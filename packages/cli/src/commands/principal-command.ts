import type { KeywardClient } from '@keyward/client';
import { type CreatePrincipalRequest, ENVIRONMENTS, PRINCIPAL_KINDS, type PrincipalView, ROLES } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { collect, collectChoice } from '../option-parsers.js';
import { renderOffboard } from '../render/render-approval.js';
import { renderPrincipal, renderPrincipalList } from '../render/render-principal.js';
import { UsageError } from '../usage-error.js';

interface CreateOptions {
  kind: CreatePrincipalRequest['kind'];
  role?: NonNullable<CreatePrincipalRequest['roles']>;
  environment?: NonNullable<CreatePrincipalRequest['environments']>;
  team?: string[];
  tlsIdentity?: string[];
}

/**
 * `keyward principal create|list|show|update|offboard`.
 *
 * @example
 * registerPrincipalCommand(program, ctx);
 */
export function registerPrincipalCommand(program: Command, ctx: CommandContext): void {
  const principal = program.command('principal').description('manage users, services and teams');

  principal
    .command('create')
    .description('create a principal')
    .argument('<id>', 'principal id, e.g. svc-billing')
    .addOption(new Option('--kind <kind>', 'kind of principal').choices(PRINCIPAL_KINDS).makeOptionMandatory())
    .addOption(new Option('--role <role>', `role (repeatable): ${ROLES.join(', ')}`).argParser(collectChoice(ROLES)).makeOptionMandatory())
    .addOption(
      new Option('--environment <env>', `environment (repeatable): ${ENVIRONMENTS.join(', ')}`).argParser(collectChoice(ENVIRONMENTS)),
    )
    .option('--team <team>', 'team membership (repeatable)', collect)
    .option('--tls-identity <identity>', 'mutual-TLS identity, uri:URI or dns:NAME (repeatable)', collect)
    .action(async (id: string, options: CreateOptions, command: Command) => {
      const request: CreatePrincipalRequest = { id, kind: options.kind };
      if (options.role !== undefined) request.roles = options.role;
      if (options.environment !== undefined) request.environments = options.environment;
      if (options.team !== undefined) request.teams = options.team;
      if (options.tlsIdentity !== undefined) request.tlsIdentities = options.tlsIdentity;
      const client = await ctx.client(command);
      ctx.print(command, await client.createPrincipal(request), renderPrincipal);
    });

  principal
    .command('list')
    .description('list every principal')
    .action(async (_options: object, command: Command) => {
      const principals = await allPrincipals(await ctx.client(command));
      ctx.print(command, { principals }, (value) => renderPrincipalList(value.principals));
    });

  principal
    .command('show')
    .description('show one principal')
    .argument('<id>', 'principal id')
    .action(async (id: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.getPrincipal(id), renderPrincipal);
    });

  principal
    .command('update')
    .description('change a principal (admin): its mutual-TLS identities, replaced whole')
    .argument('<id>', 'principal id')
    .option('--tls-identity <identity>', 'mutual-TLS identity, uri:URI or dns:NAME (repeatable; replaces every identity)', collect)
    .option('--clear-tls-identities', 'remove every mutual-TLS identity')
    .action(async (id: string, options: { tlsIdentity?: string[]; clearTlsIdentities?: boolean }, command: Command) => {
      if (options.tlsIdentity !== undefined && options.clearTlsIdentities === true) {
        throw new UsageError('--tls-identity and --clear-tls-identities exclude each other');
      }
      if (options.tlsIdentity === undefined && options.clearTlsIdentities !== true) {
        throw new UsageError('nothing to change: give --tls-identity or --clear-tls-identities');
      }
      const client = await ctx.client(command);
      ctx.print(command, await client.patchPrincipal(id, { tlsIdentities: options.tlsIdentity ?? [] }), renderPrincipal);
    });

  principal
    .command('offboard')
    .description(
      'offboard a principal: revoke every token, remove its grants, hand its keys to another owner (review due now), rotate exportable keys it could reach where the class says so',
    )
    .argument('<id>', 'principal id')
    .requiredOption('--reassign-to <owner>', 'principal or team that takes over the keys it owns')
    .option('--reason <text>', 'why (kept in the audit record)')
    .action(async (id: string, options: { reassignTo: string; reason?: string }, command: Command) => {
      const client = await ctx.client(command);
      const request =
        options.reason === undefined ? { reassignTo: options.reassignTo } : { reassignTo: options.reassignTo, reason: options.reason };
      ctx.print(command, await client.offboardPrincipal(id, request), renderOffboard);
    });
}

async function allPrincipals(client: KeywardClient): Promise<PrincipalView[]> {
  const principals: PrincipalView[] = [];
  let cursor: string | null = null;
  do {
    const page = await client.listPrincipals(cursor === null ? {} : { cursor });
    principals.push(...page.principals);
    cursor = page.nextCursor ?? null;
  } while (cursor !== null);
  return principals;
}
