import type { CreatedToken, CreateTokenRequest } from '@keyward/wire';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { parseDuration } from '../option-parsers.js';

/**
 * `keyward token create|revoke`.
 *
 * @example
 * registerTokenCommand(program, ctx);
 */
export function registerTokenCommand(program: Command, ctx: CommandContext): void {
  const token = program.command('token').description('issue and revoke bearer tokens');

  token
    .command('create')
    .description('issue a token for a principal; it is printed this once only')
    .argument('<principal>', 'principal id')
    .option('--ttl <duration>', 'lifetime, e.g. 30d (the server default otherwise)', parseDuration)
    .option('--description <text>', 'what the token is for')
    .action(async (principal: string, options: CreateTokenRequest, command: Command) => {
      const client = await ctx.client(command);
      const created = await client.createToken(principal, options);
      ctx.print(command, created, renderToken);
      ctx.note('WARNING: the token is shown this once; the server keeps only its hash. Store it in a secret store now.');
    });

  token
    .command('revoke')
    .description('revoke a token by its id (not its value); it stops working at once')
    .argument('<token-id>', 'token id, as printed by token create')
    .action(async (tokenId: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      await client.revokeToken(tokenId);
      ctx.print(command, { id: tokenId, revoked: true }, () => `revoked token ${tokenId}\n`);
    });
}

function renderToken(created: CreatedToken): string {
  return formatDetails([
    ['Token', created.token],
    ['Token ID', created.id],
    ['Principal', created.principal],
    ['Expires', created.expiresAt ?? 'never'],
  ]);
}
