import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CliIo, OutputSink } from './cli-io.js';
import type { ProgressReport } from './progress-meter.js';
import { errnoCode } from './read-input.js';
import { UsageError } from './usage-error.js';

/**
 * Streams `input` (a file, or stdin for `-`) through `transform` into
 * `output` (a file, or stdout for `-`) in constant memory. A file output is
 * written to a new 0600 temporary file beside it and renamed over it only
 * once the transform ended without error; on any failure the temporary file
 * is removed, so a failed decryption leaves no partial plaintext behind.
 * Returns the number of input bytes.
 *
 * @example
 * await streamFile('big.bin', 'big.kwe', client.envelope.encryptStream({ key }), io, report);
 */
export async function streamFile(input: string, output: string, transform: Transform, io: CliIo, report: ProgressReport): Promise<number> {
  const source = await openInput(input, io);
  let bytes = 0;
  async function* counted(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      const data = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
      bytes += data.length;
      report(bytes, false);
      yield data;
    }
  }
  if (output === '-') {
    await pipeline(counted(source), transform, (chunks: AsyncIterable<Uint8Array>) => writeAll(chunks, io.stdout));
    report(bytes, true);
    return bytes;
  }
  await writeFileAtomically(output, (handle) =>
    pipeline(counted(source), transform, async (chunks: AsyncIterable<Uint8Array>) => {
      for await (const chunk of chunks) await handle.write(chunk);
    }),
  );
  report(bytes, true);
  return bytes;
}

/**
 * Writes `path` all or nothing: `fill` writes a new 0600 temporary file
 * beside it, which is flushed to disk and renamed over `path` only once
 * `fill` resolved; when anything fails the temporary file is removed and
 * `path` is left as it was.
 *
 * @example
 * await writeFileAtomically('out.bin', async (handle) => { await handle.write(bytes); });
 */
export async function writeFileAtomically(path: string, fill: (handle: FileHandle) => Promise<void>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (error) {
    throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
  }
  let done = false;
  try {
    await fill(handle);
    await handle.sync();
    await handle.close();
    await rename(temp, path).catch((error: unknown) => {
      throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
    });
    done = true;
  } finally {
    if (!done) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
    }
  }
}

/** The size of an input file, for the progress bar; unknown for stdin. */
export async function inputSize(input: string): Promise<number | undefined> {
  if (input === '-') return undefined;
  return stat(input).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
}

async function openInput(input: string, io: CliIo): Promise<AsyncIterable<string | Uint8Array>> {
  if (input === '-') return io.stdin;
  // Open first, so a missing file is a usage error before anything is asked of the server.
  const handle = await open(input, 'r').catch((error: unknown) => {
    throw new UsageError(`cannot read ${input}: ${errnoCode(error)}`);
  });
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new UsageError(`cannot read ${input}: EISDIR`);
  }
  return handle.createReadStream({ highWaterMark: 1024 * 1024 });
}

/** Writes to stdout, waiting for 'drain' when it pushes back (so memory stays bounded). */
async function writeAll(chunks: AsyncIterable<Uint8Array>, sink: OutputSink): Promise<void> {
  const drainable = sink as OutputSink & { once?: (event: 'drain', listener: () => void) => unknown };
  for await (const chunk of chunks) {
    if (sink.write(chunk) === false && typeof drainable.once === 'function') {
      await new Promise<void>((resolve) => drainable.once?.('drain', resolve));
    }
  }
}
