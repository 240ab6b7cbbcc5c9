import { toBase64 } from '@keyward/sdk';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { collectKeyValue } from '../option-parsers.js';
import { readInput } from '../read-input.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

interface CipherOptions {
  key: string;
  context?: Record<string, string>;
  in?: string;
  out?: string;
}

/**
 * `keyward encrypt` and `keyward decrypt`: stdin to stdout by default.
 *
 * @example
 * registerCryptoCommand(program, ctx);
 */
export function registerCryptoCommand(program: Command, ctx: CommandContext): void {
  const withCipherOptions = (command: Command): Command =>
    command
      .requiredOption('--key <name>', 'key name')
      .option('--context <k=v>', 'encryption context entry (repeatable); decrypt needs the same', collectKeyValue)
      .addOption(new Option('--in <file>', 'read from FILE instead of stdin ("-" is stdin)'))
      .addOption(new Option('--out <file>', 'write to FILE (mode 0600) instead of stdout'));

  withCipherOptions(program.command('encrypt').description('encrypt bytes; prints the ciphertext string')).action(
    async (options: CipherOptions, command: Command) => {
      const plaintext = await readInput(options.in, ctx.io);
      const client = await ctx.client(command);
      const answer = await client.encrypt(options.key, plaintext, options.context === undefined ? {} : { context: options.context });
      const json = ctx.options(command).json === true;
      await writeOutput(options.out, json ? `${JSON.stringify(answer, null, 2)}\n` : `${answer.ciphertext}\n`, ctx.io);
    },
  );

  withCipherOptions(program.command('decrypt').description('decrypt a ciphertext string; writes the raw plaintext bytes')).action(
    async (options: CipherOptions, command: Command) => {
      const ciphertext = new TextDecoder().decode(await readInput(options.in, ctx.io)).trim();
      if (ciphertext === '') throw new UsageError('no ciphertext on input');
      const client = await ctx.client(command);
      const answer = await client.decrypt(options.key, ciphertext, options.context === undefined ? {} : { context: options.context });
      const json = ctx.options(command).json === true;
      const output = json
        ? `${JSON.stringify({ plaintext: toBase64(answer.plaintext), keyVersion: answer.keyVersion }, null, 2)}\n`
        : answer.plaintext;
      await writeOutput(options.out, output, ctx.io);
    },
  );
}
