/**
 * Whole-table reads and writes for backups and restores (docs/formats.md §9).
 * Rows are plain column → value objects as the driver returns them (BLOBs as
 * Uint8Array, PostgreSQL BIGINT as strings); the backup module decides what
 * they mean. Table and column names come from {@link COPIED_TABLES}, never
 * from input.
 */
import { type Kysely, sql } from 'kysely';
import type { Dialect } from './migrations.js';
import type { Database } from './schema.js';

export type TableName = keyof Database & string;
export type TableRow = Record<string, unknown>;

/** A table a backup copies, with the columns that order it (its primary key). */
export interface CopiedTable {
  name: TableName;
  key: readonly string[];
  /** A generated (serial / autoincrement) key column whose sequence a restore must move past the copied rows. */
  serial?: string;
}

/**
 * Every table a backup copies, parents before children (foreign keys).
 * Left out: `keyward_nodes` (which processes are alive now; a restored server
 * announces itself). Some `meta` rows are left out by the backup module.
 */
export const COPIED_TABLES: readonly CopiedTable[] = Object.freeze([
  { name: 'meta', key: ['name'] },
  { name: 'keks', key: ['namespace', 'version'] },
  { name: 'keys', key: ['id'] },
  { name: 'key_tags', key: ['key_id', 'tag_key'] },
  { name: 'key_versions', key: ['key_id', 'version'] },
  { name: 'principals', key: ['id'] },
  { name: 'tokens', key: ['id'] },
  { name: 'grants', key: ['id'] },
  { name: 'principal_totp', key: ['principal_id'] },
  { name: 'principal_tls_identities', key: ['identity'] },
  { name: 'audit_events', key: ['seq'], serial: 'seq' },
  { name: 'audit_chains', key: ['chain'] },
  { name: 'audit_checkpoints', key: ['id'], serial: 'id' },
  { name: 'events', key: ['id'], serial: 'id' },
  { name: 'webhooks', key: ['id'] },
  { name: 'webhook_deliveries', key: ['seq'], serial: 'seq' },
  { name: 'alerts', key: ['seq'], serial: 'seq' },
  { name: 'alert_states', key: ['detector', 'subject'] },
  { name: 'alert_cursors', key: ['chain'] },
  { name: 'incidents', key: ['id'] },
  { name: 'incident_steps', key: ['incident_id', 'name'] },
  { name: 'incident_acks', key: ['incident_id', 'node_id'] },
  { name: 'approvals', key: ['id'] },
  { name: 'import_wrapping_keys', key: ['id'] },
  { name: 'import_tokens', key: ['token_hash'] },
] satisfies CopiedTable[]);

/** Reads of one consistent, read-only snapshot of the database. */
export interface TableReader {
  count(table: CopiedTable): Promise<number>;
  /** Up to `limit` rows ordered by the table's key, strictly after the key values of `after` when given. */
  page(table: CopiedTable, after: TableRow | null, limit: number): Promise<TableRow[]>;
}

/** Writes of a restore, inside one transaction. */
export interface TableWriter {
  insert(table: CopiedTable, rows: readonly TableRow[]): Promise<void>;
}

/** Reads and in-place updates of copied tables inside a transaction (a seal rekey rewraps root-wrapped columns). */
export interface TableEditor extends TableReader {
  /** Sets `values` on the row whose key columns equal those of `key`. */
  update(table: CopiedTable, key: TableRow, values: TableRow): Promise<void>;
}

/** Whole-table copying, implemented by the store for both dialects. */
export interface TableCopy {
  /** Runs `fn` over one snapshot: rows committed meanwhile are not seen, and writers are not blocked. */
  readSnapshot<T>(fn: (reader: TableReader) => Promise<T>): Promise<T>;
  /** Rows per copied table (now, not in a snapshot). */
  countRows(): Promise<Map<TableName, number>>;
  /**
   * In one transaction: deletes every row of the copied tables (and
   * `keyward_nodes`) when `wipe` (children first), runs `fill`, then moves
   * generated keys past the copied ones. All of it lands, or none.
   */
  loadTables(wipe: boolean, fill: (writer: TableWriter) => Promise<void>): Promise<void>;
}

export function tableReader(db: Kysely<Database>): TableReader {
  // The tables are typed statically; here they are chosen at run time from COPIED_TABLES.
  const any = db as unknown as Kysely<Record<string, TableRow>>;
  return {
    async count(table) {
      const row = await any
        .selectFrom(table.name)
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async page(table, after, limit) {
      let query = any.selectFrom(table.name).selectAll();
      if (after !== null) {
        const values = table.key.map((column) => after[column]);
        query = query.where(sql<boolean>`(${sql.join(table.key.map((c) => sql.ref(c)))}) > (${sql.join(values)})`);
      }
      for (const column of table.key) query = query.orderBy(column);
      return query.limit(limit).execute();
    },
  };
}

export function tableEditor(db: Kysely<Database>): TableEditor {
  const any = db as unknown as Kysely<Record<string, TableRow>>;
  return {
    ...tableReader(db),
    async update(table, key, values) {
      let query = any.updateTable(table.name).set(values);
      for (const column of table.key) query = query.where(column, '=', key[column]);
      await query.execute();
    },
  };
}

export function tableWriter(db: Kysely<Database>): TableWriter {
  const any = db as unknown as Kysely<Record<string, TableRow>>;
  return {
    async insert(table, rows) {
      if (rows.length > 0)
        await any
          .insertInto(table.name)
          .values(rows as TableRow[])
          .execute();
    },
  };
}

/** See {@link TableCopy.loadTables}. */
export async function loadTables(
  db: Kysely<Database>,
  dialect: Dialect,
  wipe: boolean,
  fill: (writer: TableWriter) => Promise<void>,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const any = tx as unknown as Kysely<Record<string, TableRow>>;
    if (wipe) {
      await any.deleteFrom('keyward_nodes').execute();
      for (const table of [...COPIED_TABLES].reverse()) {
        // The schema version stays: the target was migrated to this Keyward's schema.
        if (table.name === 'meta') await any.deleteFrom('meta').where('name', '<>', 'schema_version').execute();
        else await any.deleteFrom(table.name).execute();
      }
    }
    await fill(tableWriter(tx));
    if (dialect === 'postgres') {
      for (const table of COPIED_TABLES) {
        if (table.serial === undefined) continue;
        // setval(…, max, true) makes the next generated value max + 1; an empty table restarts at 1.
        await sql`select setval(pg_get_serial_sequence(${table.name}, ${table.serial}), coalesce((select max(${sql.ref(table.serial)}) from ${sql.table(table.name)}), 0) + 1, false)`.execute(
          tx,
        );
      }
    }
  });
}

/** Rows per copied table. */
export async function countRows(db: Kysely<Database>): Promise<Map<TableName, number>> {
  const reader = tableReader(db);
  const counts = new Map<TableName, number>();
  for (const table of COPIED_TABLES) counts.set(table.name, await reader.count(table));
  return counts;
}
