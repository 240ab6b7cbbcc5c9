import type { Health } from '@keyward/wire';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { formatDetails } from '../format-details.js';

/**
 * `keyward status`: the server's health; exits 4 when it is sealed or not initialized.
 *
 * @example
 * registerStatusCommand(program, ctx);
 */
export function registerStatusCommand(program: Command, ctx: CommandContext): void {
  program
    .command('status')
    .description('show whether the server is initialized and unsealed (exit 4 when sealed or uninitialized)')
    .action(async (_options: object, command: Command) => {
      const client = await ctx.client(command);
      const health = await client.health();
      ctx.print(command, health, renderHealth);
      if (!health.initialized || health.sealed) ctx.fail(ExitCode.Unavailable);
    });
}

function renderHealth(health: Health): string {
  return formatDetails([
    ['Initialized', health.initialized ? 'yes' : 'no'],
    ['Sealed', health.sealed ? 'yes' : 'no'],
    ['Version', health.version],
    ...(health.seal === undefined ? [] : [['Seal', health.seal] as const]),
  ]);
}
