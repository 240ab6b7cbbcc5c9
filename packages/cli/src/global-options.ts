import { readFile } from 'node:fs/promises';
import type { KeywardClientOptions } from '@keyward/sdk';
import type { CliIo } from './cli-io.js';
import { errnoCode } from './read-input.js';
import { UsageError } from './usage-error.js';

/** Options every command accepts (set on the root program). */
export interface GlobalOptions {
  addr?: string;
  tokenFile?: string;
  namespace?: string;
  json?: boolean;
}

/** Address used when neither `--addr` nor `KEYWARD_ADDR` is set. */
export const DEFAULT_ADDRESS = 'http://127.0.0.1:8200';

/**
 * Client options from the flags and the environment: `--addr` over
 * `KEYWARD_ADDR` over the default; the token from `--token-file` over
 * `KEYWARD_TOKEN` (never from a flag value: process arguments are visible to
 * every user of the machine); `--namespace` over `KEYWARD_NAMESPACE`.
 *
 * @example
 * const client = new KeywardClient(await clientOptions(command.optsWithGlobals(), io));
 */
export async function clientOptions(options: GlobalOptions, io: CliIo): Promise<KeywardClientOptions> {
  const address = options.addr ?? nonEmpty(io.env.KEYWARD_ADDR) ?? DEFAULT_ADDRESS;
  const token = options.tokenFile === undefined ? nonEmpty(io.env.KEYWARD_TOKEN) : await readToken(options.tokenFile);
  const namespace = options.namespace ?? nonEmpty(io.env.KEYWARD_NAMESPACE);
  return { address, token, namespace, fetch: io.fetch };
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --token-file ${path}: ${errnoCode(error)}`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) throw new UsageError(`--token-file ${path} must hold exactly one token`);
  return token;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
