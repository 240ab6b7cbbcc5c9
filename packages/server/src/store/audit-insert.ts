import type { Compilable, CompiledQuery, Kysely } from 'kysely';
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
 * Up to this many rows, a group commit's records go in one statement of
 * exactly their count: the common batches (a few to a few dozen records)
 * then cost one statement, not one per binary digit of their count (each
 * SQLite statement costs ~20 µs on the request path besides its rows).
 * Beyond it, counts are powers of two: any batch takes at most 64 + 4
 * shapes of statement in all, which the statement cache keeps.
 */
const EXACT_ROWS = 64;

/** How many of `left` rows the next INSERT carries. */
export function nextInsertRows(left: number): number {
  if (left <= EXACT_ROWS) return left;
  return left >= MAX_ROWS ? MAX_ROWS : 2 ** Math.floor(Math.log2(left));
}

/**
 * Compiled INSERTs by row count, per dialect adapter (the SQL differs:
 * `?` or `$n`): built by Kysely once, then only their parameters change.
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
 * Inserts `records` in order ({@link nextInsertRows} rows a statement),
 * without building Kysely's query tree for every row of every group commit.
 */
export async function insertAuditRecords(db: Kysely<Database>, records: readonly ChainedAuditRecord[]): Promise<void> {
  let at = 0;
  while (at < records.length) {
    const left = records.length - at;
    const rows = nextInsertRows(left);
    const query = insertOf(db, rows);
    const parameters: unknown[] = [];
    for (let i = at; i < at + rows; i++) pushRow(parameters, records[i] as ChainedAuditRecord);
    await db.executeQuery({ ...query, parameters });
    at += rows;
  }
}

/** An argument's stand-in while a statement is compiled: its position is then found among the compiled parameters. */
const slot = (i: number): string => `\u0000keyward-argument-${i}`;

/**
 * A statement of every group commit (the chain head, use counts) built by
 * Kysely once per dialect adapter and then run with new arguments, instead
 * of building its query tree for every commit. `build` receives the
 * arguments and is called once, with stand-ins; each of them must end up as
 * exactly one bound parameter.
 */
export function prepared<A extends unknown[]>(
  build: (db: Kysely<Database>, ...args: A) => Compilable,
): (db: Kysely<Database>, ...args: A) => CompiledQuery {
  const arity = build.length - 1;
  const byAdapter = new WeakMap<object, { query: CompiledQuery; order: number[] }>();
  return (db, ...args) => {
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (compiled === undefined) {
      const stand = Array.from({ length: arity }, (_, i) => slot(i)) as A;
      const query = build(db, ...stand).compile();
      const order = query.parameters.map((p) => stand.indexOf(p as never));
      if (order.includes(-1) || new Set(order).size !== arity || order.length !== arity) {
        throw new Error('a prepared statement must bind each of its arguments exactly once');
      }
      compiled = { query, order };
      byAdapter.set(adapter, compiled);
    }
    const { query, order } = compiled;
    return { ...query, parameters: order.map((i) => args[i]) };
  };
}
