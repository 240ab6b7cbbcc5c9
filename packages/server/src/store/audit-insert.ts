import type { CompiledQuery, Kysely } from 'kysely';
import type { ChainedAuditRecord } from './records.js';
import type { Database } from './schema.js';

/** The columns an audit record fills, in the order of each row's parameters. */
const COLUMNS = [
  'time',
  'actor',
  'action',
  'namespace',
  'key_name',
  'key_version',
  'outcome',
  'error_code',
  'request_id',
  'source',
  'details',
  'chain',
  'chain_seq',
  'prev_hash',
  'hash',
] as const;

/**
 * The most rows one INSERT carries: 1,024 × 15 parameters stays under
 * SQLite's limit of 32,766 bound parameters per statement (PostgreSQL's is
 * 65,535). A group commit can hold far more records than that (a batch
 * request of 1,000 items writes 1,000), so larger ones take several
 * statements.
 */
const MAX_ROWS = 1024;

/**
 * Compiled INSERTs by row count, per dialect adapter (the SQL differs:
 * `?` or `$n`): built by Kysely once, then only their parameters change.
 * Counts are powers of two, so a batch of any size takes at most eleven
 * shapes of statement and the statement cache keeps all of them.
 */
const compiled = new WeakMap<object, Map<number, CompiledQuery>>();

function insertOf(db: Kysely<Database>, rows: number): CompiledQuery {
  const adapter = db.getExecutor().adapter;
  let byRows = compiled.get(adapter);
  if (byRows === undefined) {
    byRows = new Map();
    compiled.set(adapter, byRows);
  }
  let query = byRows.get(rows);
  if (query === undefined) {
    const blank = Object.fromEntries(COLUMNS.map((column) => [column, null]));
    query = db
      .insertInto('audit_events')
      .values(Array.from({ length: rows }, () => blank) as never)
      .compile();
    if (query.parameters.length !== rows * COLUMNS.length) throw new Error('the audit INSERT did not compile to one parameter per column');
    byRows.set(rows, query);
  }
  return query;
}

function pushRow(parameters: unknown[], r: ChainedAuditRecord): void {
  parameters.push(
    r.time,
    r.actor,
    r.action,
    r.namespace,
    r.key,
    r.keyVersion,
    r.outcome,
    r.errorCode,
    r.requestId,
    r.source,
    JSON.stringify(r.details),
    r.chain,
    r.chainSeq,
    r.prevHash,
    r.hash,
  );
}

/**
 * Inserts `records` in order with as few statements as their count in
 * binary digits (at most {@link MAX_ROWS} rows each), without building
 * Kysely's query tree for every row of every group commit.
 */
export async function insertAuditRecords(db: Kysely<Database>, records: readonly ChainedAuditRecord[]): Promise<void> {
  let at = 0;
  while (at < records.length) {
    const left = records.length - at;
    const rows = left >= MAX_ROWS ? MAX_ROWS : 2 ** Math.floor(Math.log2(left));
    const query = insertOf(db, rows);
    const parameters: unknown[] = [];
    for (let i = at; i < at + rows; i++) pushRow(parameters, records[i] as ChainedAuditRecord);
    await db.executeQuery({ ...query, parameters });
    at += rows;
  }
}
