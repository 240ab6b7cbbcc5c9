import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AuditEventList, AuditEventsQuery } from '@keyward/client';
import type {
  AuditCheckpointView,
  AuditEventsQuery as AuditEventsWireQuery,
  AuditOutcome,
  AuditProblem,
  AuditRecordView,
  AuditVerifyReport,
} from '@keyward/wire';
import { type Command, Option } from 'commander';
import type { OutputSink } from '../cli-io.js';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { collectKeyValue, integerBetween, parseTime } from '../option-parsers.js';
import { errnoCode, readInput, readStdin } from '../read-input.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

const OUTCOMES = ['success', 'denied', 'error'] as const satisfies readonly AuditOutcome[];

interface VerifyOptions {
  file?: string;
  publicKey?: string;
  fileSink?: boolean;
}

/** The API's filters as options (`--namespace` is the global flag), and `--all` for every page. */
interface EventsOptions extends Omit<AuditEventsWireQuery, 'namespace'> {
  all?: boolean;
}

/**
 * `keyward audit verify|export|events|public-key|hash|checkpoint`: the
 * tamper-evident audit trail for auditors (docs/audit.md). `verify --file`
 * checks an export or a file sink offline, with no server.
 *
 * @example
 * registerAuditCommands(program, ctx);
 */
export function registerAuditCommands(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description('the tamper-evident audit trail: verify, export, read, hash a value, checkpoint');

  audit
    .command('verify')
    .description('verify every chain against the signed checkpoints (on the server, or offline with --file); exit 0 valid, 3 invalid')
    .option(
      '--file <file>',
      'verify this JSON-lines file offline (an export, or a file sink with --file-sink) instead of asking the server',
    )
    .option('--public-key <file>', 'with --file: the audit public key (PEM) obtained out of band; the key inside the file is not trusted')
    .option('--file-sink', "with --file: the file is a node's file sink (its own chain only), not a whole export")
    .action(async (options: VerifyOptions, command: Command) => {
      let report: AuditVerifyReport;
      if (options.file === undefined) {
        if (options.publicKey !== undefined || options.fileSink === true) throw new UsageError('--public-key and --file-sink need --file');
        report = await (await ctx.client(command)).verifyAudit();
      } else {
        if (options.publicKey === undefined)
          throw new UsageError('--file needs --public-key FILE (the audit public key, obtained out of band)');
        report = await verifyOffline(ctx, options.file, options.publicKey, options.fileSink === true);
      }
      ctx.print(command, report, renderAuditReport);
      if (!report.valid) ctx.fail(ExitCode.Refused);
    });

  audit
    .command('export')
    .description('download the whole trail as JSON lines, streamed, for offline verification')
    .requiredOption('--out <file>', 'write to FILE (mode 0600, replaced only once complete); "-" for stdout')
    .action(async (options: { out: string }, command: Command) => {
      const client = await ctx.client(command);
      if (options.out === '-') {
        await copyChunks(await client.exportAudit(), (chunk) => writeDraining(ctx.io.stdout, chunk));
        return;
      }
      const { lines, bytes } = await exportToFile(options.out, () => client.exportAudit());
      ctx.note(`wrote ${lines} audit lines (${bytes} bytes) to ${options.out}`);
    });

  audit
    .command('events')
    .description('list audit records matching every filter, oldest first (one page unless --all)')
    .option('--key <name>', 'only records about this key (in the namespace, if one is set)')
    .option('--version <n>', 'only records about this key version', integerBetween(1, Number.MAX_SAFE_INTEGER))
    .option('--principal <id>', 'only records of this acting principal')
    .option('--action <action>', 'only this action, e.g. crypto.encrypt, key.rotate, audit.export')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(OUTCOMES))
    .option('--from <time>', 'only records at or after this RFC 3339 time', parseTime)
    .option('--to <time>', 'only records before this RFC 3339 time', parseTime)
    .option('--limit <n>', 'page size (1–1000)', integerBetween(1, 1000))
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'fetch every page')
    .action(async (options: EventsOptions, command: Command) => {
      const { all, ...filters } = options;
      // The namespace header does not scope the trail; the namespace set for the CLI filters it explicitly.
      const namespace = ctx.options(command).namespace ?? nonEmpty(ctx.io.env.KEYWARD_NAMESPACE);
      const query: AuditEventsQuery = namespace === undefined ? filters : { ...filters, namespace };
      const client = await ctx.client(command);
      let list: AuditEventList;
      if (all === true) {
        const { cursor: _, ...filter } = query;
        const events: AuditRecordView[] = [];
        for await (const record of client.iterateAuditEvents(filter)) events.push(record);
        list = { events, nextCursor: null };
      } else {
        list = await client.auditEvents(query);
      }
      ctx.print(command, list, (value) => renderAuditEvents(value.events));
      if (list.nextCursor !== null && ctx.options(command).json !== true) ctx.note(`more records: --cursor ${list.nextCursor} (or --all)`);
    });

  audit
    .command('public-key')
    .description('print the Ed25519 public key (PEM) that signs audit checkpoints; its key id goes to stderr')
    .option('--out <file>', 'write to FILE instead of stdout')
    .action(async (options: { out?: string }, command: Command) => {
      const answer = await (await ctx.client(command)).auditPublicKey();
      const json = ctx.options(command).json === true;
      await writeOutput(options.out, json ? `${JSON.stringify(answer, null, 2)}\n` : withNewline(answer.publicKey), ctx.io);
      if (!json) ctx.note(`audit key id: ${answer.keyId}`);
    });

  audit
    .command('hash')
    .description('print the HMAC the trail records for a sensitive value (read from stdin, never argv) or an encryption context')
    .option('--value-stdin', 'hash the value on stdin (a hidden prompt on a terminal; one final newline is dropped)')
    .option('--context <k=v>', 'hash this encryption context (repeatable, one entry each)', collectKeyValue)
    .action(async (options: { valueStdin?: boolean; context?: Record<string, string> }, command: Command) => {
      if ((options.valueStdin === true) === (options.context !== undefined)) {
        throw new UsageError('give exactly one of --value-stdin and --context k=v');
      }
      const input = options.context !== undefined ? { context: options.context } : { value: await readValue(ctx) };
      const answer = await (await ctx.client(command)).auditHash(input);
      ctx.print(command, answer, (value) => `${value.hmac}\n`);
    });

  audit
    .command('checkpoint')
    .description('sign a checkpoint of every chain head now (admin)')
    .action(async (_options: object, command: Command) => {
      ctx.print(command, await (await ctx.client(command)).auditCheckpoint(), renderCheckpoint);
    });
}

/** Verifies a JSON-lines file with no server, reading it twice as a stream (constant memory). */
async function verifyOffline(ctx: CommandContext, file: string, publicKeyFile: string, fileSink: boolean): Promise<AuditVerifyReport> {
  if (file === '-') throw new UsageError('--file must name a file: it is read twice, so it cannot be stdin');
  // Loaded here only: the other commands need no crypto and start faster without it.
  const { auditPublicKey, verifyAuditLines } = await import('@keyward/crypto');
  const pem = new TextDecoder().decode(await readInput(publicKeyFile, ctx.io));
  let publicKey: ReturnType<typeof auditPublicKey>;
  try {
    publicKey = auditPublicKey(pem);
  } catch {
    throw new UsageError(`--public-key ${publicKeyFile} is not an Ed25519 public key in PEM form`);
  }
  return verifyAuditLines(() => fileLines(file), { publicKey, requireAllChains: !fileSink });
}

/** The lines of `path`, read as a stream; a file-system error is a usage error naming the file. */
async function* fileLines(path: string): AsyncGenerator<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${errnoCode(error)}`);
  }
  const input = handle.createReadStream({ encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) yield line;
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${errnoCode(error)}`);
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * Streams the export into a temporary file (mode 0600) beside `path` and
 * renames it over `path` once complete, so `path` never holds a partial
 * export. The file is created before asking the server, so an unwritable
 * path fails before the server signs a checkpoint for nothing.
 */
async function exportToFile(path: string, download: () => Promise<ReadableStream<string>>): Promise<{ lines: number; bytes: number }> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (error) {
    throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
  }
  let done = false;
  try {
    const counts = await copyChunks(await download(), async (chunk) => {
      try {
        await handle.write(chunk);
      } catch (error) {
        throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
      }
    });
    await handle.sync();
    await handle.close();
    await rename(temp, path).catch((error: unknown) => {
      throw new UsageError(`cannot write ${path}: ${errnoCode(error)}`);
    });
    done = true;
    return counts;
  } finally {
    if (!done) {
      await handle.close().catch(() => {});
      await rm(temp, { force: true });
    }
  }
}

/** Hands each chunk to `write` in turn (so memory stays at one chunk) and counts lines and bytes. */
async function copyChunks(
  stream: ReadableStream<string>,
  write: (chunk: string) => Promise<void>,
): Promise<{ lines: number; bytes: number }> {
  let lines = 0;
  let bytes = 0;
  for await (const chunk of stream) {
    await write(chunk);
    bytes += Buffer.byteLength(chunk, 'utf8');
    for (let at = chunk.indexOf('\n'); at >= 0; at = chunk.indexOf('\n', at + 1)) lines += 1;
  }
  return { lines, bytes };
}

/** Writes to stdout and waits for it to drain when its buffer is full, so a slow reader does not fill memory. */
async function writeDraining(sink: OutputSink, chunk: string): Promise<void> {
  if (sink.write(chunk) === false && isEmitter(sink)) await once(sink, 'drain');
}

function isEmitter(sink: OutputSink): sink is OutputSink & NodeJS.EventEmitter {
  return typeof (sink as { once?: unknown }).once === 'function';
}

/** The value to hash: a hidden prompt on a terminal, else all of stdin less one final newline. Never argv. */
async function readValue(ctx: CommandContext): Promise<string> {
  let value: string;
  if (ctx.io.stdinIsTTY) {
    value = await ctx.io.readSecret('Value to hash (input hidden): ');
  } else {
    try {
      value = new TextDecoder('utf-8', { fatal: true }).decode(await readStdin(ctx.io));
    } catch {
      throw new UsageError('the value on stdin is not UTF-8 text');
    }
    value = value.replace(/\r?\n$/, '');
  }
  if (value === '') throw new UsageError('no value on stdin to hash');
  return value;
}

/**
 * A verification report: the verdict, the counts, the problem (its chain and
 * first bad record), each chain, and the node's file sink when checked.
 *
 * @example
 * io.stdout.write(renderAuditReport(await client.verifyAudit()));
 */
export function renderAuditReport(report: AuditVerifyReport): string {
  const problem = report.problem ?? report.file?.problem ?? null;
  const pairs: Array<[string, string]> = [
    ['Result', report.valid ? 'valid' : 'INVALID'],
    ['Chains', String(report.chains.length)],
    ['Records', String(report.chains.reduce((n, c) => n + c.records, 0))],
    ['Checkpoints', String(report.checkpoints)],
    ['Latest checkpoint', report.latestCheckpointAt ?? 'none'],
  ];
  if (report.file !== undefined) {
    const head = report.file.head === null ? 'empty' : `${report.file.head.chain} record ${report.file.head.seq}`;
    pairs.push(['File sink', `${report.file.path} (${report.file.valid ? 'valid' : 'INVALID'}, ends at ${head})`]);
  }
  if (problem !== null) pairs.push(...problemPairs(problem));
  let text = formatDetails(pairs);
  if (report.chains.length > 0) {
    text += `\n${formatTable(
      ['CHAIN', 'RECORDS', 'HEAD', 'CHECKPOINTED'],
      report.chains.map((c) => [c.chain, String(c.records), c.head === null ? '-' : String(c.head.seq), String(c.checkpointedSeq)]),
    )}`;
  }
  return text;
}

function problemPairs(problem: AuditProblem): Array<[string, string]> {
  const pairs: Array<[string, string]> = [['Problem', problem.kind]];
  if (problem.chain !== null) pairs.push(['Chain', problem.chain]);
  if (problem.seq !== null) pairs.push(['First bad record', String(problem.seq)]);
  if (problem.checkpointId !== null) pairs.push(['Checkpoint', String(problem.checkpointId)]);
  pairs.push(['Detail', problem.message]);
  return pairs;
}

/**
 * Audit records as a table, one line each (details: `--json`).
 *
 * @example
 * io.stdout.write(renderAuditEvents(page.events));
 */
export function renderAuditEvents(events: readonly AuditRecordView[]): string {
  if (events.length === 0) return 'no audit records\n';
  return formatTable(
    ['TIME', 'CHAIN', 'SEQ', 'ACTOR', 'ACTION', 'KEY', 'OUTCOME', 'SOURCE'],
    events.map((r) => [
      r.time,
      r.chain,
      String(r.seq),
      r.actor ?? '-',
      r.action,
      r.key === null ? '-' : `${r.namespace ?? 'default'}/${r.key}${r.keyVersion === null ? '' : ` v${r.keyVersion}`}`,
      r.errorCode === null ? r.outcome : `${r.outcome} (${r.errorCode})`,
      r.source,
    ]),
  );
}

function renderCheckpoint(c: AuditCheckpointView): string {
  const details = formatDetails([
    ['Checkpoint', String(c.id)],
    ['Time', c.time],
    ['Node', c.node],
    ['Key ID', c.keyId],
  ]);
  return `${details}\n${formatTable(
    ['CHAIN', 'SEQ', 'HASH'],
    c.heads.map((h) => [h.chain, String(h.seq), h.hash]),
  )}`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
