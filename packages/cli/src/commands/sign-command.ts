import { fromBase64, type SignInput, toBase64 } from '@keyward/client';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { integerBetween, parseHex } from '../option-parsers.js';
import { readInput } from '../read-input.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

interface SignOptions {
  key: string;
  in?: string;
  digestHex?: Uint8Array;
  out?: string;
  raw?: boolean;
}

interface VerifyOptions {
  key: string;
  signature: string;
  in?: string;
  digestHex?: Uint8Array;
  raw?: boolean;
  version?: number;
}

/**
 * `keyward sign` and `keyward verify` (exit 3 when the signature is invalid).
 *
 * @example
 * registerSignCommand(program, ctx);
 */
export function registerSignCommand(program: Command, ctx: CommandContext): void {
  program
    .command('sign')
    .description('sign a message (stdin by default) or a digest; prints the signature in base64')
    .requiredOption('--key <name>', 'signing key name')
    .option('--in <file>', 'message from FILE instead of stdin')
    .option('--digest-hex <hex>', 'sign this precomputed digest instead of a message', parseHex)
    .option('--out <file>', 'write the signature to FILE instead of stdout')
    .option('--raw', 'write the raw signature bytes instead of base64')
    .action(async (options: SignOptions, command: Command) => {
      const input = await signedInput(options, ctx);
      const client = await ctx.client(command);
      const answer = await client.sign(options.key, input);
      const json = ctx.options(command).json === true;
      let output: string | Uint8Array = `${toBase64(answer.signature)}\n`;
      if (json) output = `${JSON.stringify({ signature: toBase64(answer.signature), keyVersion: answer.keyVersion }, null, 2)}\n`;
      else if (options.raw === true) output = answer.signature;
      await writeOutput(options.out, output, ctx.io);
    });

  program
    .command('verify')
    .description('verify a signature of a message (stdin by default) or digest; exit 0 valid, 3 invalid')
    .requiredOption('--key <name>', 'signing key name')
    .requiredOption('--signature <file>', 'signature file (base64 as written by sign, or raw with --raw); "-" for stdin')
    .option('--in <file>', 'message from FILE instead of stdin')
    .option('--digest-hex <hex>', 'verify against this precomputed digest instead of a message', parseHex)
    .option('--raw', 'the signature file holds raw bytes, not base64')
    .option('--version <n>', 'check only this key version', integerBetween(1, Number.MAX_SAFE_INTEGER))
    .action(async (options: VerifyOptions, command: Command) => {
      if (options.signature === '-' && (options.in === undefined || options.in === '-') && options.digestHex === undefined) {
        throw new UsageError('with --signature - the message must come from --in FILE or --digest-hex');
      }
      const signature = await readSignature(options, ctx);
      const input = await signedInput(options, ctx);
      const client = await ctx.client(command);
      const answer = await client.verify(options.key, {
        ...input,
        signature,
        ...(options.version === undefined ? {} : { keyVersion: options.version }),
      });
      ctx.print(command, answer, (result) =>
        result.valid ? `valid (key version ${result.keyVersion ?? '?'})\n` : 'invalid: the signature does not match\n',
      );
      if (!answer.valid) ctx.fail(ExitCode.Refused);
    });
}

async function signedInput(options: { in?: string; digestHex?: Uint8Array }, ctx: CommandContext): Promise<SignInput> {
  if (options.digestHex !== undefined) {
    if (options.in !== undefined) throw new UsageError('give --in FILE or --digest-hex HEX, not both');
    return { digest: options.digestHex };
  }
  return { message: await readInput(options.in, ctx.io) };
}

async function readSignature(options: VerifyOptions, ctx: CommandContext): Promise<Uint8Array> {
  const bytes = await readInput(options.signature, ctx.io);
  if (options.raw === true) return bytes;
  const signature = fromBase64(new TextDecoder().decode(bytes).trim());
  if (signature === undefined) throw new UsageError(`--signature ${options.signature} is not base64 (use --raw for raw bytes)`);
  return signature;
}
