import { readFile } from 'node:fs/promises';
import { isPendingApproval } from '@keyward/client';
import { wrapForImport } from '@keyward/crypto';
import {
  EXPORT_WRAPPING_ALGORITHMS,
  type ExportWrappingAlgorithm,
  IMPORT_WRAPPING_ALGORITHMS,
  type ImportParameters,
  type ImportWrappingAlgorithm,
} from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { integerBetween } from '../option-parsers.js';
import { errnoCode } from '../read-input.js';
import { orPending } from '../render/render-approval.js';
import { renderKey } from '../render/render-key.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

async function readFileOrFail(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${errnoCode(error)}`);
  }
}

/** The import token of a saved `key import-parameters --json` answer, checked against the algorithm asked for. */
async function tokenOf(path: string, algorithm: ImportWrappingAlgorithm): Promise<string> {
  let parsed: Partial<ImportParameters>;
  try {
    parsed = JSON.parse((await readFileOrFail(path, 'parameters')).toString('utf8')) as Partial<ImportParameters>;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${path} is not the JSON of keyward key import-parameters --json`);
  }
  if (typeof parsed.importToken !== 'string') throw new UsageError(`${path} holds no importToken`);
  if (parsed.algorithm !== algorithm)
    throw new UsageError(`${path} was issued for ${String(parsed.algorithm)}; pass --algorithm ${String(parsed.algorithm)}`);
  return parsed.importToken;
}

/**
 * `keyward key import-parameters|import|export` (docs/transit.md): BYOK
 * import and wrapped export. Key material is read from a file, never from
 * an argument, and is wrapped here before it leaves the machine.
 *
 * @example
 * registerKeyTransportCommands(key, ctx);
 */
export function registerKeyTransportCommands(key: Command, ctx: CommandContext): void {
  const importAlgorithm = () =>
    new Option('--algorithm <algorithm>', 'wrapping algorithm').choices(IMPORT_WRAPPING_ALGORITHMS).default('RSA_AES_KEY_WRAP_SHA_256');

  key
    .command('import-parameters')
    .description('BYOK: print the wrapping public key (PEM) and a single-use import token valid 24 hours')
    .argument('<name>', 'key name')
    .addOption(importAlgorithm())
    .action(async (name: string, options: { algorithm: ImportWrappingAlgorithm }, command: Command) => {
      const client = await ctx.client(command);
      const params = await client.getImportParameters(name, options.algorithm);
      ctx.print(
        command,
        params,
        (p) =>
          `${formatDetails([
            ['Algorithm', p.algorithm],
            ['Import token', p.importToken],
            ['Expires', p.expiresAt],
          ])}${p.publicKey}`,
      );
    });

  key
    .command('import')
    .description('BYOK: wrap raw key material from a file for the key and import it as the new primary version')
    .argument('<name>', 'key name')
    .option('--key-file <file>', 'the raw key material (32 bytes for AES/ChaCha20/HMAC-SHA256, 64 for HMAC-SHA512)')
    .addOption(importAlgorithm())
    .option(
      '--wrapped-file <file>',
      'import this already-wrapped key instead (needs --parameters); wrap it with openssl as docs/transit.md shows',
    )
    .option(
      '--parameters <file>',
      'the `key import-parameters --json` answer the wrapped key was made for (its token is never an argument)',
    )
    .action(
      async (
        name: string,
        options: { keyFile?: string; wrappedFile?: string; parameters?: string; algorithm: ImportWrappingAlgorithm },
        command: Command,
      ) => {
        const client = await ctx.client(command);
        let importToken: string;
        let wrapped: Uint8Array;
        if ((options.keyFile === undefined) === (options.wrappedFile === undefined)) {
          throw new UsageError('give exactly one of --key-file and --wrapped-file');
        }
        if (options.wrappedFile !== undefined) {
          if (options.parameters === undefined) throw new UsageError('--wrapped-file needs --parameters');
          importToken = await tokenOf(options.parameters, options.algorithm);
          wrapped = await readFileOrFail(options.wrappedFile, 'wrapped key');
        } else {
          const material = await readFileOrFail(options.keyFile ?? '', 'key file');
          const params = await client.getImportParameters(name, options.algorithm);
          importToken = params.importToken;
          try {
            wrapped = wrapForImport(options.algorithm, params.publicKey, material);
          } finally {
            material.fill(0);
          }
        }
        const answer = await client.importKey(name, {
          importToken,
          wrappedKey: Buffer.from(wrapped).toString('base64'),
          algorithm: options.algorithm,
        });
        ctx.print(command, answer, renderKey);
      },
    );

  key
    .command('export')
    .description("wrapped export: a version's material wrapped for a recipient public key (exportable keys only)")
    .argument('<name>', 'key name')
    .requiredOption('--version <n>', 'version number', integerBetween(1, Number.MAX_SAFE_INTEGER))
    .requiredOption('--public-key <file>', "the recipient's public key (PEM SubjectPublicKeyInfo): RSA ≥ 2048 bits or ML-KEM-768")
    .addOption(
      new Option('--algorithm <algorithm>', 'wrapping algorithm').choices(EXPORT_WRAPPING_ALGORITHMS).default('RSA_AES_KEY_WRAP_SHA_256'),
    )
    .option('--output <file>', 'write the wrapped key (raw bytes, mode 0600) to FILE; without it, print the answer')
    .action(
      async (
        name: string,
        options: { version: number; publicKey: string; algorithm: ExportWrappingAlgorithm; output?: string },
        command: Command,
      ) => {
        const publicKey = (await readFileOrFail(options.publicKey, 'public key')).toString('utf8');
        const client = await ctx.client(command);
        const answer = await client.exportVersion(name, options.version, { publicKey, algorithm: options.algorithm });
        if (isPendingApproval(answer)) {
          ctx.print(
            command,
            answer,
            orPending(() => ''),
          );
          return;
        }
        if (options.output !== undefined) {
          await writeOutput(options.output, Buffer.from(answer.wrappedKey, 'base64'), ctx.io);
          ctx.io.stderr.write(
            `Wrote version ${answer.keyVersion} of ${name} (${answer.keyAlgorithm}) wrapped for ${answer.recipientFingerprint}\n`,
          );
          return;
        }
        ctx.print(command, answer, (a) =>
          formatDetails([
            ['Version', String(a.keyVersion)],
            ['Key algorithm', a.keyAlgorithm],
            ['Wrapping', a.algorithm],
            ['Recipient', a.recipientFingerprint],
            ['Wrapped key', a.wrappedKey],
          ]),
        );
      },
    );
}
