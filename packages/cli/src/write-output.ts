import { writeFile } from 'node:fs/promises';
import type { CliIo } from './cli-io.js';
import { errnoCode } from './read-input.js';
import { UsageError } from './usage-error.js';

/**
 * Writes to `--out FILE` (mode 0600, since it may hold plaintext), or to
 * stdout when the path is absent or `-`.
 *
 * @example
 * await writeOutput(options.out, plaintext, io);
 */
export async function writeOutput(path: string | undefined, data: string | Uint8Array, io: CliIo): Promise<void> {
  if (path === undefined || path === '-') {
    io.stdout.write(data);
    return;
  }
  try {
    await writeFile(path, data, { mode: 0o600 });
  } catch (error) {
    throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
  }
}
