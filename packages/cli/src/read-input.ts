import { readFile } from 'node:fs/promises';
import type { CliIo } from './cli-io.js';
import { UsageError } from './usage-error.js';

/**
 * The bytes of `--in FILE`, or of stdin when the path is absent or `-`.
 *
 * @example
 * const plaintext = await readInput(options.in, io);
 */
export async function readInput(path: string | undefined, io: CliIo): Promise<Uint8Array> {
  if (path === undefined || path === '-') return readStdin(io);
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${errnoCode(error)}`);
  }
}

/**
 * All of stdin as bytes.
 *
 * @example
 * const bytes = await readStdin(io);
 */
export async function readStdin(io: CliIo): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of io.stdin) {
    chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  }
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** The errno code of a file-system error, or its message (never the file's content). */
export function errnoCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}
