import type { SqliteDatabase, SqliteStatement } from 'kysely';

const MAX_STATEMENTS = 512;

/**
 * Hands Kysely a database whose `prepare` reuses compiled statements, so a
 * query SQLite has seen before is not parsed and planned again (Kysely's
 * driver prepares on every call). better-sqlite3 runs statements
 * synchronously, one at a time, so sharing one is safe.
 */
export function withStatementCache(database: SqliteDatabase): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (cache.size >= MAX_STATEMENTS) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
