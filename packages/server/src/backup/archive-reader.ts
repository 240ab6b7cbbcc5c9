import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter } from 'age-encryption';
import { SCHEMA_VERSION } from '../store/migrations.js';
import { COPIED_TABLES, type CopiedTable, type TableName, type TableRow } from '../store/table-copy.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveEnd,
  type ArchiveHeader,
  type ArchiveKnownAnswer,
  type ArchiveValue,
  BACKUP_KEY_BYTES,
  decodeValue,
  READABLE_ARCHIVE_VERSIONS,
  unwrapFromBackup,
} from './archive-format.js';
import { KNOWN_ANSWER_PATTERN } from './known-answers.js';
import { metaLeftOut, type RootWrapped, rootWrapped } from './root-wrapped.js';

/** No archive line is longer: a bound on memory for a damaged or hostile file. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The archive is not one Keyward wrote, is damaged, or does not open with the identities. The message names the defect, never a secret. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** One row as read back: driver values, plus the secret of its root-wrapped column (the caller zeroes it). */
export interface ReadRow {
  table: CopiedTable;
  row: TableRow;
  wrapped: { spec: RootWrapped; secret: Uint8Array } | null;
}

/**
 * Reads an age-encrypted archive from `path` with the custodians'
 * `identities` (AGE-SECRET-KEY-1… or hybrid AGE-SECRET-KEY-PQ-1…), checking
 * as it goes everything docs/formats.md §9 promises: the header, the order
 * and form of every row, every backup-wrapped value (unwrapped, so a
 * tampered one fails), the per-table counts and the trailer's SHA-256.
 * `onRow` sees each row after its checks, `onKnownAnswer` each known-answer
 * line (version 2) after its checks; a defect anywhere throws
 * {@link ArchiveError} — so a caller that writes only after a first full
 * pass has written nothing from a bad archive.
 */
export async function readArchive(
  path: string,
  identities: readonly string[],
  onHeader: (header: ArchiveHeader) => Promise<void>,
  onRow: (row: ReadRow) => Promise<void>,
  onKnownAnswer: (answer: ArchiveKnownAnswer) => Promise<void> = async () => {},
): Promise<{ header: ArchiveHeader; end: ArchiveEnd }> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  const file = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
  let plaintext: ReadableStream<Uint8Array>;
  try {
    plaintext = await decrypter.decrypt(file);
  } catch {
    throw new ArchiveError('the archive does not open: it is not an age file, or no identity given is one of its recipients');
  }
  const hash = createHash('sha256');
  let header: ArchiveHeader | null = null;
  let backupKey: Uint8Array | null = null;
  let end: ArchiveEnd | null = null;
  let tableIndex = 0;
  const counts = new Map<TableName, number>();
  let rows = 0;
  let knownAnswers = 0;
  /** The `key_versions` row just read, when it has material: the only place a known-answer line may follow. */
  let awaitingAnswer: { key: string; version: number } | null = null;
  try {
    for await (const line of lines(authenticated(Readable.fromWeb(plaintext as WebReadableStream<Uint8Array>)))) {
      if (end !== null) throw new ArchiveError('the archive goes on after its trailer');
      const value = parseLine(line);
      if (header === null) {
        header = checkHeader(value);
        backupKey = Buffer.from(header.backupKey, 'base64');
        hash.update(line);
        await onHeader(header);
        continue;
      }
      if (value.type === 'end') {
        end = checkEnd(value, hash.copy().digest('hex'), rows, knownAnswers, counts, header);
        continue;
      }
      hash.update(line);
      if (value.type === 'known-answer') {
        const answer = checkKnownAnswer(value, awaitingAnswer, header, rows + knownAnswers + 2);
        awaitingAnswer = null;
        knownAnswers += 1;
        await onKnownAnswer(answer);
        continue;
      }
      if (value.type !== 'row' || typeof value.table !== 'string' || typeof value.row !== 'object' || value.row === null) {
        throw new ArchiveError(`line ${rows + knownAnswers + 2} is not a row`);
      }
      const index = COPIED_TABLES.findIndex((t) => t.name === value.table);
      if (index < tableIndex)
        throw new ArchiveError(`line ${rows + knownAnswers + 2}: table ${String(value.table)} is unknown or out of order`);
      tableIndex = index;
      const table = COPIED_TABLES[index] as CopiedTable;
      const read = readRow(table, value.row as Record<string, ArchiveValue>, backupKey as Uint8Array, rows + knownAnswers + 2);
      awaitingAnswer =
        table.name === 'key_versions' && read.row.material !== null && read.row.material !== undefined
          ? { key: String(read.row.key_id), version: Number(read.row.version) }
          : null;
      try {
        await onRow(read);
      } finally {
        if (read.wrapped !== null) read.wrapped.secret.fill(0);
      }
      rows += 1;
      counts.set(table.name, (counts.get(table.name) ?? 0) + 1);
    }
  } finally {
    backupKey?.fill(0);
  }
  if (header === null) throw new ArchiveError('the archive is empty');
  if (end === null) throw new ArchiveError('the archive is truncated: it has no trailer');
  return { header, end };
}

/** The decrypted bytes; age fails a damaged or truncated chunk (its STREAM tag) while they are read. */
async function* authenticated(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream) yield chunk;
  } catch {
    throw new ArchiveError('the archive is damaged or truncated (age authentication failed)');
  }
}

/** Lines (with their newline) of a byte stream; a final line without one is returned too, so that it is reported. */
async function* lines(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of stream) {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = buffer.indexOf(10); at >= 0; at = buffer.indexOf(10)) {
      pending.push(buffer.subarray(0, at + 1));
      yield Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      buffer = buffer.subarray(at + 1);
    }
    if (buffer.length > 0) {
      pending.push(Buffer.from(buffer));
      pendingBytes += buffer.length;
      if (pendingBytes > MAX_LINE_BYTES) throw new ArchiveError('the archive has a line longer than any Keyward writes');
    }
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}

function parseLine(line: Buffer): Record<string, unknown> {
  if (line.at(-1) !== 10) throw new ArchiveError('the archive is truncated: its last line is incomplete');
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new ArchiveError('the archive has a line that is not a JSON object');
}

function checkHeader(value: Record<string, unknown>): ArchiveHeader {
  if (value.type !== 'header' || value.format !== ARCHIVE_FORMAT) throw new ArchiveError('not a Keyward backup archive (no header)');
  if (typeof value.version !== 'number' || !READABLE_ARCHIVE_VERSIONS.includes(value.version)) {
    throw new ArchiveError(
      `archive format version ${String(value.version)} is not supported (this Keyward reads ${READABLE_ARCHIVE_VERSIONS.join(' and ')}, writes ${ARCHIVE_VERSION})`,
    );
  }
  if (value.version >= 2) {
    const heads = value.auditHeads;
    if (
      !Array.isArray(heads) ||
      !heads.every(
        (h) =>
          typeof h?.chain === 'string' &&
          Number.isInteger(h?.seq) &&
          h.seq > 0 &&
          typeof h?.hash === 'string' &&
          /^[0-9a-f]{64}$/.test(h.hash),
      )
    ) {
      throw new ArchiveError('header: auditHeads is missing or malformed');
    }
  }
  const schema = value.schemaVersion;
  if (typeof schema !== 'number' || !Number.isInteger(schema) || schema < 1) throw new ArchiveError('header: schemaVersion is missing');
  if (schema > SCHEMA_VERSION) {
    throw new ArchiveError(
      `the archive is of schema version ${schema}, newer than this Keyward understands (${SCHEMA_VERSION}); restore with a newer Keyward`,
    );
  }
  if (typeof value.backupKey !== 'string' || Buffer.from(value.backupKey, 'base64').length !== BACKUP_KEY_BYTES) {
    throw new ArchiveError('header: backupKey is missing or not 32 bytes');
  }
  const tables = value.tables;
  if (!Array.isArray(tables) || !tables.every((t) => typeof t?.name === 'string' && Number.isInteger(t?.rows) && t.rows >= 0)) {
    throw new ArchiveError('header: tables is missing or malformed');
  }
  for (const t of tables as Array<{ name: string }>) {
    if (!COPIED_TABLES.some((c) => c.name === t.name)) throw new ArchiveError(`header: table ${t.name} is unknown`);
  }
  if (typeof value.createdAt !== 'string' || typeof value.source !== 'object' || value.source === null) {
    throw new ArchiveError('header: createdAt or source is missing');
  }
  return value as unknown as ArchiveHeader;
}

function checkEnd(
  value: Record<string, unknown>,
  sha256: string,
  rows: number,
  knownAnswers: number,
  counts: Map<TableName, number>,
  header: ArchiveHeader,
): ArchiveEnd {
  if (value.sha256 !== sha256) throw new ArchiveError('the archive failed its integrity check (SHA-256 of the body)');
  if (value.rows !== rows) throw new ArchiveError(`the trailer counts ${String(value.rows)} rows, the archive holds ${rows}`);
  if (header.version >= 2 && value.knownAnswers !== knownAnswers) {
    throw new ArchiveError(`the trailer counts ${String(value.knownAnswers)} known-answer lines, the archive holds ${knownAnswers}`);
  }
  for (const table of header.tables) {
    if ((counts.get(table.name) ?? 0) !== table.rows) {
      throw new ArchiveError(`table ${table.name}: the header counts ${table.rows} rows, the archive holds ${counts.get(table.name) ?? 0}`);
    }
  }
  for (const name of counts.keys()) {
    if (!header.tables.some((t) => t.name === name)) throw new ArchiveError(`table ${name} has rows but is not in the header`);
  }
  return value as unknown as ArchiveEnd;
}

/** A known-answer line (version 2) must follow the `key_versions` row with material that it names, once. */
function checkKnownAnswer(
  value: Record<string, unknown>,
  awaiting: { key: string; version: number } | null,
  header: ArchiveHeader,
  line: number,
): ArchiveKnownAnswer {
  if (header.version < 2) throw new ArchiveError(`line ${line}: a version ${header.version} archive has no known-answer lines`);
  if (typeof value.key !== 'string' || !Number.isInteger(value.version) || typeof value.value !== 'string') {
    throw new ArchiveError(`line ${line}: malformed known-answer line`);
  }
  if (!KNOWN_ANSWER_PATTERN.test(value.value)) throw new ArchiveError(`line ${line}: a known-answer value has an unknown form`);
  if (awaiting === null || awaiting.key !== value.key || awaiting.version !== value.version) {
    throw new ArchiveError(`line ${line}: a known-answer line does not follow the key version it names`);
  }
  return { type: 'known-answer', key: value.key, version: value.version as number, value: value.value };
}

function readRow(table: CopiedTable, encoded: Record<string, ArchiveValue>, backupKey: Uint8Array, line: number): ReadRow {
  const row: TableRow = {};
  let wrappedValue: string | null = null;
  for (const [column, value] of Object.entries(encoded)) {
    if (typeof value === 'object' && value !== null && 'wrapped' in value) {
      if (typeof value.wrapped !== 'string' || wrappedValue !== null) throw new ArchiveError(`line ${line}: malformed wrapped value`);
      wrappedValue = value.wrapped;
      row[column] = null;
      continue;
    }
    try {
      row[column] = decodeValue(value);
    } catch {
      throw new ArchiveError(`line ${line}: column ${column} has a malformed value`);
    }
  }
  if (table.name === 'meta' && metaLeftOut(String(row.name)))
    throw new ArchiveError(`line ${line}: meta ${String(row.name)} never belongs in an archive`);
  const spec = rootWrapped(table.name, row);
  if ((spec === null) !== (wrappedValue === null) || (spec !== null && !(spec.column in encoded))) {
    throw new ArchiveError(`line ${line}: ${table.name} row has its secret in the wrong form`);
  }
  if (spec === null || wrappedValue === null) return { table, row, wrapped: null };
  let secret: Uint8Array;
  try {
    secret = unwrapFromBackup(backupKey, table.name, spec.aad, wrappedValue);
  } catch {
    throw new ArchiveError(`line ${line}: a ${table.name} secret failed its integrity check under the backup key`);
  }
  return { table, row, wrapped: { spec, secret } };
}
