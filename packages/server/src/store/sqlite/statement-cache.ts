import type Sqlite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const MAX_STATEMENTS = 512;

/** What the cache wraps: better-sqlite3's own statements (not Kysely's narrower view of them), or a statement that returns no rows. */
export interface PreparingDatabase {
  prepare(sql: string): Sqlite.Statement | WriteStatement;
  close(): void;
}

/** A statement that returns no rows, written in JavaScript (such as a `begin` that does not wait for the lock). */
export interface WriteStatement extends SqliteStatement {
  readonly reader: false;
}

/**
 * Hands Kysely a database whose `prepare` reuses compiled statements, so a
 * query SQLite has seen before is not parsed and planned again (Kysely's
 * driver prepares on every call). better-sqlite3 runs statements
 * synchronously, one at a time, so sharing one is safe.
 *
 * Rows of queries come back as objects built in JavaScript from
 * better-sqlite3's raw arrays ({@link RowStatement}): the same objects, in
 * half the time for wide rows such as a page of keys.
 */
export function withStatementCache(database: PreparingDatabase): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = RowStatement.wrap(database.prepare(sql));
        if (cache.size >= MAX_STATEMENTS) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}

/**
 * A query statement in better-sqlite3's raw mode (rows as arrays), turning
 * each array into an object by copying a template with the columns' names
 * and filling it in column order. better-sqlite3 builds row objects in C++
 * one property at a time, which costs about 6 µs for a 24-column key row;
 * this costs under a third of that. Duplicate column names keep the last
 * value, as better-sqlite3's objects do.
 */
class RowStatement implements SqliteStatement {
  readonly reader = true;
  readonly #statement: Sqlite.Statement;
  readonly #names: string[];
  readonly #template: Record<string, unknown>;

  static wrap(statement: Sqlite.Statement | WriteStatement): SqliteStatement {
    if (!statement.reader) return statement;
    const names = statement.columns().map((c) => c.name);
    // A column named __proto__ would set the prototype when assigned: leave such a statement as it is.
    if (names.includes('__proto__')) return statement;
    return new RowStatement(statement.raw(true), names);
  }

  private constructor(statement: Sqlite.Statement, names: string[]) {
    this.#statement = statement;
    this.#names = names;
    this.#template = Object.fromEntries(names.map((name) => [name, null]));
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    const rows = this.#statement.all(parameters) as unknown[][];
    const out = new Array<unknown>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.#object(rows[i] as unknown[]);
    return out;
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    for (const row of this.#statement.iterate(parameters)) yield this.#object(row as unknown[]);
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(parameters);
  }

  #object(row: unknown[]): Record<string, unknown> {
    const object = { ...this.#template };
    const names = this.#names;
    for (let i = 0; i < names.length; i++) object[names[i] as string] = row[i];
    return object;
  }
}
