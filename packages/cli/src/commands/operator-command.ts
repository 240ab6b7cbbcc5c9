import type { InitResponse, UnsealResponse } from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { integerBetween } from '../option-parsers.js';
import { readStdin } from '../read-input.js';
import { UsageError } from '../usage-error.js';

const INIT_WARNING = `WARNING: the unseal shares and the admin token above are shown this once and never again.
Give each share to a different custodian, keep the admin token in a secret store,
and never keep the shares together or next to the token.`;

/**
 * `keyward operator init|unseal|seal`.
 *
 * @example
 * registerOperatorCommand(program, ctx);
 */
export function registerOperatorCommand(program: Command, ctx: CommandContext): void {
  const operator = program
    .command('operator')
    .description(
      'initialize, unseal and seal the server; offline (server stopped): keyward operator rekey | migrate-seal --to KIND --data-dir DIR …',
    );

  operator
    .command('init')
    .description('initialize a Shamir-sealed server; prints the unseal shares and the first admin token once')
    .addOption(new Option('--shares <n>', 'number of unseal shares').argParser(integerBetween(1, 255)))
    .addOption(new Option('--threshold <m>', 'shares needed to unseal').argParser(integerBetween(1, 255)))
    .action(async (options: { shares?: number; threshold?: number }, command: Command) => {
      if (options.shares !== undefined && options.threshold !== undefined && options.threshold > options.shares) {
        throw new UsageError('--threshold cannot exceed --shares');
      }
      const client = await ctx.client(command);
      const answer = await client.init({
        ...(options.shares === undefined ? {} : { shares: options.shares }),
        ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
      });
      ctx.print(command, answer, renderInit);
      ctx.note(INIT_WARNING);
    });

  operator
    .command('unseal')
    .description('submit ONE unseal share, read from a hidden prompt (or stdin when not a terminal); repeat per share')
    .action(async (_options: object, command: Command) => {
      const share = await readShare(ctx);
      const client = await ctx.client(command);
      ctx.print(command, await client.unseal(share), renderUnseal);
    });

  operator
    .command('seal')
    .description('seal the server: it forgets its keys until unsealed (admin only)')
    .action(async (_options: object, command: Command) => {
      const client = await ctx.client(command);
      await client.seal();
      ctx.print(command, { sealed: true }, () => 'Keyward is sealed.\n');
    });
}

/** One share: from the terminal without echo, or the single non-empty line of stdin. Never from argv. */
async function readShare(ctx: CommandContext): Promise<string> {
  if (ctx.io.stdinIsTTY) return (await ctx.io.readSecret('Unseal share (input hidden): ')).trim();
  const lines = new TextDecoder()
    .decode(await readStdin(ctx.io))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const [share] = lines;
  if (share === undefined) throw new UsageError('no unseal share on stdin');
  if (lines.length > 1) throw new UsageError(`stdin holds ${lines.length} lines; give one share per 'keyward operator unseal'`);
  return share;
}

function renderInit(answer: InitResponse): string {
  const shares = answer.unsealShares.map((share, index) => [`Unseal share ${index + 1}`, share] as const);
  return formatDetails([...shares, ['Initial admin token', answer.adminToken]]);
}

function renderUnseal(answer: UnsealResponse): string {
  if (!answer.sealed) return `Keyward is unsealed (${answer.threshold} of ${answer.threshold} shares).\n`;
  return `Unseal progress: ${answer.progress} of ${answer.threshold} shares; Keyward is still sealed.\n`;
}
