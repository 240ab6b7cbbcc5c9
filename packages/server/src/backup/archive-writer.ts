import { createHash, randomBytes } from 'node:crypto';
import { Encrypter } from 'age-encryption';
import type { Seal } from '../seal/seal.js';
import { zero } from '../seal/zero.js';
import { SCHEMA_VERSION } from '../store/migrations.js';
import type { Store } from '../store/store.js';
import { COPIED_TABLES, type TableName, type TableReader, type TableRow } from '../store/table-copy.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  type ArchiveEnd,
  type ArchiveHeader,
  type ArchiveKnownAnswer,
  type ArchiveRow,
  BACKUP_KEY_BYTES,
  encodeRow,
  wrapForBackup,
} from './archive-format.js';
import { KnownAnswers } from './known-answers.js';
import { metaLeftOut, rootWrapped } from './root-wrapped.js';

/** Rows read per page: bounds memory whatever the store's size. */
const PAGE_ROWS = 500;

export interface ArchiveSource {
  store: Store;
  seal: Seal;
  node: string;
  keyward: string;
  now: Date;
}

/** Called once per written chunk; resolves when the consumer wants more (backpressure). */
export type ArchiveSink = (chunk: Uint8Array) => Promise<void>;

/**
 * Writes the plaintext archive (docs/formats.md §9) of one consistent
 * snapshot of the store to `sink`, page by page. Root-wrapped values are
 * unwrapped by the seal and re-wrapped under a fresh backup key that exists
 * only in the archive's header (which the caller encrypts with age); each
 * plaintext secret and the backup key are zeroed after use. Every version
 * with material gets its known-answer line (docs/formats.md §9.4), computed
 * from the material unwrapped under its KEK: a version whose material does
 * not unwrap fails the backup (throws `KnownAnswerError`), so an
 * archive never silently carries a key it cannot restore. The header records
 * every audit chain's head. Resolves with the trailer once everything was
 * handed to `sink`.
 */
export async function writeArchive(source: ArchiveSource, sink: ArchiveSink): Promise<ArchiveEnd> {
  const backupKey = randomBytes(BACKUP_KEY_BYTES);
  const answers = new KnownAnswers();
  try {
    return await source.store.readSnapshot(async (reader) => {
      const hash = createHash('sha256');
      const emit = async (line: ArchiveHeader | ArchiveRow | ArchiveKnownAnswer | ArchiveEnd) => {
        const bytes = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
        hash.update(bytes);
        await sink(bytes);
      };
      const tables: ArchiveHeader['tables'] = [];
      for (const table of COPIED_TABLES) {
        const rows = table.name === 'meta' ? (await metaRows(reader)).length : await reader.count(table);
        tables.push({ name: table.name, rows });
      }
      await emit({
        type: 'header',
        format: ARCHIVE_FORMAT,
        version: ARCHIVE_VERSION,
        schemaVersion: SCHEMA_VERSION,
        createdAt: source.now.toISOString(),
        source: { node: source.node, dialect: source.store.dialect, keyward: source.keyward },
        backupKey: backupKey.toString('base64'),
        tables,
        auditHeads: await auditHeads(reader),
      });
      let rows = 0;
      let knownAnswers = 0;
      for (const table of COPIED_TABLES) {
        const pages = table.name === 'meta' ? onePage(await metaRows(reader)) : pagesOf(reader, table);
        const keepKek =
          table.name === 'keks'
            ? (row: TableRow, secret: Uint8Array) => answers.kek(String(row.namespace), Number(row.version), secret)
            : null;
        for await (const page of pages) {
          for (const row of page) {
            await emit({ type: 'row', table: table.name, row: await archivedRow(source.seal, backupKey, table.name, row, keepKek) });
            rows += 1;
            if (table.name === 'keys') answers.key(row);
            if (table.name !== 'key_versions') continue;
            const answer = answers.answer(row);
            if (answer === null) continue;
            await emit({ type: 'known-answer', key: answer.keyId, version: answer.version, value: answer.value });
            knownAnswers += 1;
          }
        }
      }
      const end: ArchiveEnd = { type: 'end', rows, knownAnswers, sha256: hash.copy().digest('hex') };
      await emit(end);
      return end;
    });
  } finally {
    zero(backupKey);
    answers.dispose();
  }
}

/** Every audit chain's head in the snapshot, by chain name. */
async function auditHeads(reader: TableReader): Promise<NonNullable<ArchiveHeader['auditHeads']>> {
  const chains = COPIED_TABLES.find((t) => t.name === 'audit_chains');
  if (chains === undefined) throw new Error('audit_chains must be a copied table');
  const heads: NonNullable<ArchiveHeader['auditHeads']> = [];
  for await (const page of pagesOf(reader, chains)) {
    for (const row of page) {
      if (Number(row.seq) > 0) heads.push({ chain: String(row.chain), seq: Number(row.seq), hash: String(row.hash) });
    }
  }
  return heads.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
}

/** Encrypts a plaintext archive stream to the recipients with age (STREAM: 64 KiB chunks, each authenticated, truncation detected). */
export async function encryptArchive(
  recipients: readonly string[],
  plaintext: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array>> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter.encrypt(plaintext);
}

async function metaRows(reader: TableReader): Promise<TableRow[]> {
  const meta = COPIED_TABLES[0];
  if (meta?.name !== 'meta') throw new Error('meta must be the first copied table');
  const out: TableRow[] = [];
  for await (const page of pagesOf(reader, meta)) out.push(...page.filter((row) => !metaLeftOut(String(row.name))));
  return out;
}

async function* onePage(rows: TableRow[]): AsyncGenerator<TableRow[]> {
  yield rows;
}

async function* pagesOf(reader: TableReader, table: (typeof COPIED_TABLES)[number]): AsyncGenerator<TableRow[]> {
  let after: TableRow | null = null;
  for (;;) {
    const page = await reader.page(table, after, PAGE_ROWS);
    if (page.length > 0) yield page;
    if (page.length < PAGE_ROWS) return;
    after = page[page.length - 1] ?? null;
  }
}

/** The row as archived; `keep` sees its root-wrapped secret (if any) before it is zeroed. */
async function archivedRow(
  seal: Seal,
  backupKey: Uint8Array,
  table: TableName,
  row: TableRow,
  keep: ((row: TableRow, secret: Uint8Array) => void) | null,
): Promise<ArchiveRow['row']> {
  const wrapped = rootWrapped(table, row);
  if (wrapped === null) return encodeRow(row);
  const { [wrapped.column]: value, ...rest } = row;
  const blob = wrapped.encoding === 'base64' ? Buffer.from(String(value), 'base64') : (value as Uint8Array);
  const secret = await seal.unwrap(blob, wrapped.aad);
  try {
    keep?.(row, secret);
    return { ...encodeRow(rest), [wrapped.column]: { wrapped: wrapForBackup(backupKey, table, wrapped.aad, secret) } };
  } finally {
    zero(secret);
  }
}
