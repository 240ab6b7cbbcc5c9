import { toBase64 } from '@keyward/client';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { collectKeyValue, integerBetween } from '../option-parsers.js';
import { progressMeter } from '../progress-meter.js';
import { readInput } from '../read-input.js';
import { inputSize, streamFile } from '../stream-file.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

interface CipherOptions {
  key?: string;
  context?: Record<string, string>;
  in?: string;
  out?: string;
  envelope?: boolean;
  frameSize?: number;
}

/**
 * `keyward encrypt` and `keyward decrypt`: stdin to stdout by default; with
 * `--envelope IN OUT`, streaming envelope encryption of files of any size
 * through the SDK (docs/transit.md).
 *
 * @example
 * registerCryptoCommand(program, ctx);
 */
export function registerCryptoCommand(program: Command, ctx: CommandContext): void {
  const withCipherOptions = (command: Command, keyHelp: string): Command =>
    command
      .argument('[in]', 'with --envelope: the input file ("-" is stdin)')
      .argument('[out]', 'with --envelope: the output file ("-" is stdout), written whole or not at all')
      .option('--key <name>', keyHelp)
      .option('--context <k=v>', 'encryption context entry (repeatable); decrypt needs the same', collectKeyValue)
      .option('--envelope', 'envelope encryption of IN into OUT, streamed in constant memory (any size)')
      .addOption(new Option('--in <file>', 'read from FILE instead of stdin ("-" is stdin)'))
      .addOption(new Option('--out <file>', 'write to FILE (mode 0600) instead of stdout'));

  withCipherOptions(program.command('encrypt').description('encrypt bytes; prints the ciphertext string'), 'key name')
    .addOption(
      new Option('--frame-size <bytes>', 'with --envelope: plaintext bytes per frame (default 65536)').argParser(
        integerBetween(1, 16_777_216),
      ),
    )
    .action(async (inPath: string | undefined, outPath: string | undefined, options: CipherOptions, command: Command) => {
      if (options.key === undefined) throw new UsageError("required option '--key <name>' not specified");
      if (options.envelope === true) {
        const [input, output] = envelopePaths(inPath, outPath, options);
        const client = await ctx.client(command);
        const transform = client.envelope.encryptStream({
          key: options.key,
          ...(options.context === undefined ? {} : { context: options.context }),
          ...(options.frameSize === undefined ? {} : { frameSize: options.frameSize }),
        });
        await streamFile(input, output, transform, ctx.io, progressMeter(ctx.io, 'encrypt', await inputSize(input)));
        return;
      }
      noPositionals(inPath, options);
      const plaintext = await readInput(options.in, ctx.io);
      const client = await ctx.client(command);
      const answer = await client.encrypt(options.key, plaintext, options.context === undefined ? {} : { context: options.context });
      const json = ctx.options(command).json === true;
      await writeOutput(options.out, json ? `${JSON.stringify(answer, null, 2)}\n` : `${answer.ciphertext}\n`, ctx.io);
    });

  withCipherOptions(
    program.command('decrypt').description('decrypt a ciphertext string; writes the raw plaintext bytes'),
    'key name (with --envelope: optional; the key comes from the header, and if given must match it)',
  ).action(async (inPath: string | undefined, outPath: string | undefined, options: CipherOptions, command: Command) => {
    if (options.envelope === true) {
      const [input, output] = envelopePaths(inPath, outPath, options);
      const client = await ctx.client(command);
      const expectedKey = options.key;
      const transform = client.envelope.decryptStream({
        ...(options.context === undefined ? {} : { context: options.context }),
        onHeader: (header) => {
          if (expectedKey !== undefined && header.keyName !== expectedKey) {
            throw new UsageError(`--key: the envelope is sealed under key '${header.keyName}', not '${expectedKey}'`);
          }
        },
      });
      await streamFile(input, output, transform, ctx.io, progressMeter(ctx.io, 'decrypt', await inputSize(input)));
      return;
    }
    if (options.key === undefined) throw new UsageError("required option '--key <name>' not specified");
    noPositionals(inPath, options);
    const ciphertext = new TextDecoder().decode(await readInput(options.in, ctx.io)).trim();
    if (ciphertext === '') throw new UsageError('no ciphertext on input');
    const client = await ctx.client(command);
    const answer = await client.decrypt(options.key, ciphertext, options.context === undefined ? {} : { context: options.context });
    const json = ctx.options(command).json === true;
    const output = json
      ? `${JSON.stringify({ plaintext: toBase64(answer.plaintext), keyVersion: answer.keyVersion }, null, 2)}\n`
      : answer.plaintext;
    await writeOutput(options.out, output, ctx.io);
  });
}

/** IN and OUT of `--envelope`, both required ("-" for stdin / stdout); --in/--out do not mix with them. */
function envelopePaths(inPath: string | undefined, outPath: string | undefined, options: CipherOptions): [string, string] {
  if (options.in !== undefined || options.out !== undefined)
    throw new UsageError('--envelope takes IN and OUT as arguments, not --in/--out');
  if (inPath === undefined || outPath === undefined) throw new UsageError('--envelope needs IN and OUT ("-" for stdin or stdout)');
  if (inPath !== '-' && inPath === outPath) throw new UsageError('IN and OUT must be different files');
  return [inPath, outPath];
}

function noPositionals(inPath: string | undefined, options: CipherOptions): void {
  if (inPath !== undefined) throw new UsageError('IN and OUT arguments need --envelope; otherwise use --in/--out');
  if (options.frameSize !== undefined) throw new UsageError('--frame-size needs --envelope');
}
