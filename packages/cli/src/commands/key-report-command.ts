import { type Command, InvalidArgumentError } from 'commander';
import type { CommandContext } from '../command-context.js';
import { renderUsage } from '../render/render-usage.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const AGO = /^([1-9][0-9]{0,5})([dhms])$/;
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/**
 * Parses `--since`: an RFC 3339 time, passed on as written (the server checks
 * the calendar), or a duration such as `30d` meaning that long before now.
 *
 * @example
 * parseSince('30d', () => Date.parse('2026-06-30T00:00:00Z')); // '2026-05-31T00:00:00.000Z'
 */
export function parseSince(value: string, now: () => number = Date.now): string {
  if (RFC3339.test(value)) return value;
  const ago = AGO.exec(value);
  if (ago === null) throw new InvalidArgumentError('expected an RFC 3339 time (2026-06-01T00:00:00Z) or a duration such as 30d');
  return new Date(now() - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]).toISOString();
}

/**
 * `keyward key usage` and `keyward key jwks`: reports about one key.
 *
 * @example
 * registerKeyReportCommands(program.command('key'), ctx);
 */
export function registerKeyReportCommands(key: Command, ctx: CommandContext): void {
  key
    .command('usage')
    .description('who used which version for what: successful operations per version, principal and operation')
    .argument('<name>', 'key name')
    .option('--since <time>', 'count only operations since this RFC 3339 time, or this long ago (e.g. 30d)', (value: string) =>
      parseSince(value),
    )
    .action(async (name: string, options: { since?: string }, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.usage(name, options.since === undefined ? {} : { since: options.since }), renderUsage);
    });

  key
    .command('jwks')
    .description('print the JWK Set (JSON) of an asymmetric key: the versions that may still verify, newest first')
    .argument('<name>', 'key name')
    .action(async (name: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      ctx.print(command, await client.jwks(name), (set) => `${JSON.stringify(set, null, 2)}\n`);
    });
}
