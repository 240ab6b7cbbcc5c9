import type { CliIo } from './cli-io.js';
import { promptSecret } from './prompt-secret.js';
import { UsageError } from './usage-error.js';

/**
 * The CLI's I/O bound to this process.
 *
 * @example
 * process.exitCode = await run(process.argv.slice(2), processIo());
 */
export function processIo(): CliIo {
  const { stdin, stdout, stderr, env } = process;
  return {
    env,
    stdin,
    stdinIsTTY: stdin.isTTY === true,
    stdout,
    stderr,
    stderrIsTTY: stderr.isTTY === true,
    async readSecret(prompt) {
      if (stdin.isTTY !== true) throw new UsageError('stdin is not a terminal');
      return promptSecret(prompt, stdin, stderr);
    },
  };
}
