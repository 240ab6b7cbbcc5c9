import { buildProgram } from './build-program.js';
import type { CliIo } from './cli-io.js';
import { CommandContext } from './command-context.js';
import { handleError } from './handle-error.js';

/**
 * Runs `keyward` with `argv` (without node and script) and answers the exit
 * code. Nothing escapes: every failure goes through {@link handleError}.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(2), processIo());
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const ctx = new CommandContext(io);
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    return handleError(error, io.stderr, io.env.KEYWARD_DEBUG === '1');
  }
}
