import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { writeFileAtomically } from '../stream-file.js';
import { UsageError } from '../usage-error.js';

/** How often the progress line is redrawn on a terminal. */
const PROGRESS_MS = 250;

/**
 * `keyward backup create`: asks the running server for an encrypted backup
 * and writes it to a file. `keyward backup restore` and `backup verify` are offline and need the
 * store drivers, so bin/keyward hands them to the server package
 * (packages/server/src/backup/restore-main.ts, verify-main.ts) and they never reach here.
 *
 * @example
 * registerBackupCommand(program, ctx);
 */
export function registerBackupCommand(program: Command, ctx: CommandContext): void {
  const backup = program
    .command('backup')
    .description(
      'encrypted backups: create (asks the server); restore and verify run offline: keyward backup restore|verify FILE --identity FILE …',
    );

  backup
    .command('create')
    .description('stream an age-encrypted backup of the whole store to FILE (admin only)')
    .requiredOption('--recipient <age1…>', 'an age recipient (X25519 age1… or hybrid age1pq1…); repeat for each custodian', collect, [])
    .requiredOption('--out <file>', 'write to FILE (mode 0600, created new, renamed into place only once complete)')
    .action(async (options: { recipient: string[]; out: string }, command: Command) => {
      if (options.recipient.length === 0) throw new UsageError('--recipient: at least one is required');
      const client = await ctx.client(command);
      const written = await writeArchiveFile(options.out, () => client.backup(options.recipient), progress(ctx));
      ctx.print(command, { file: options.out, bytes: written }, (v) =>
        formatDetails([
          ['Backup', v.file],
          ['Bytes', String(v.bytes)],
          ['Recipients', String(options.recipient.length)],
        ]),
      );
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A progress reporter that draws on stderr when it is a terminal, and does nothing otherwise. */
function progress(ctx: CommandContext): (bytes: number, done: boolean) => void {
  if (ctx.io.stderrIsTTY !== true) return () => {};
  const started = Date.now();
  let drawn = 0;
  return (bytes, done) => {
    const now = Date.now();
    if (!done && now - drawn < PROGRESS_MS) return;
    drawn = now;
    const seconds = Math.max((now - started) / 1000, 0.001);
    const mib = bytes / (1024 * 1024);
    ctx.io.stderr.write(`\rbackup: ${mib.toFixed(1)} MiB, ${(mib / seconds).toFixed(1)} MiB/s${done ? '\n' : ''}`);
  };
}

/**
 * Streams the archive into a new temporary file (0600) beside `path` and
 * renames it over `path` once the server ended the stream, so `path` never
 * holds a partial archive. Refuses an existing `path`: a backup never
 * overwrites another.
 */
async function writeArchiveFile(
  path: string,
  download: () => Promise<ReadableStream<Uint8Array>>,
  report: (bytes: number, done: boolean) => void,
): Promise<number> {
  const existing = await open(path, 'r').then(
    (h) => h.close().then(() => true),
    () => false,
  );
  if (existing) throw new UsageError(`${path} exists; a backup never overwrites a file`);
  let bytes = 0;
  await writeFileAtomically(path, async (handle) => {
    for await (const chunk of await download()) {
      await handle.write(chunk);
      bytes += chunk.byteLength;
      report(bytes, false);
    }
  });
  report(bytes, true);
  return bytes;
}
