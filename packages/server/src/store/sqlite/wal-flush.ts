import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeywardError } from '@keyward/wire';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SqliteDialect,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely';

/** Makes everything written to the write-ahead log so far durable (fdatasync of the `-wal` file). */
export type WalFlush = () => Promise<void>;

/**
 * The default flush: fdatasync of the WAL file, in libuv's thread pool
 * rather than on the event loop, through one descriptor kept open (one
 * thread-pool round trip per flush). The first flush also fsyncs the
 * directory, so the WAL file's own entry survives power loss. SQLite creates
 * the file at the first write and removes it only when the last connection
 * closes, so while this store's connection is open the descriptor names the
 * live file.
 */
export class WalFile {
  readonly #path: string;
  #handle: Promise<FileHandle> | null = null;

  constructor(walPath: string) {
    this.#path = walPath;
  }

  readonly flush: WalFlush = async () => {
    this.#handle ??= this.#open().catch((error: unknown) => {
      this.#handle = null;
      throw error;
    });
    await (await this.#handle).datasync();
  };

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await (await handle?.catch(() => null))?.close();
  }

  async #open(): Promise<FileHandle> {
    const handle = await open(this.#path, 'r');
    try {
      const directory = await open(dirname(this.#path), 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return handle;
  }
}

const BROKEN =
  'the database could not be flushed to disk, so Keyward refuses all further work until it is restarted; check the disk and the server log';

/**
 * Group flushing: a caller waits for a flush that started after it asked, and
 * callers that ask while one flush runs share the next. A flush that fails
 * leaves the store broken for good (after a failed fsync the kernel may
 * have dropped the dirty pages, so retrying could report durable what was
 * lost): every later use is refused with 503 `unavailable`.
 */
export class FlushGroup {
  readonly #flush: WalFlush;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  readonly #onFailure: (error: unknown) => void;
  #failed = false;

  /** `onFailure` hears the first failure's cause (the callers only get 503 `unavailable`). */
  constructor(flush: WalFlush, onFailure: (error: unknown) => void = () => {}) {
    this.#flush = flush;
    this.#onFailure = onFailure;
  }

  /** Throws 503 `unavailable` once a flush has failed. */
  assertHealthy(): void {
    if (this.#failed) throw new KeywardError('unavailable', BROKEN);
  }

  /** Resolves once everything written before this call is durable. */
  flush(): Promise<void> {
    if (this.#running === null) return this.#begin();
    this.#next ??= this.#running
      .catch(() => {})
      .then(() => {
        this.#next = null;
        return this.#begin();
      });
    return this.#next;
  }

  #begin(): Promise<void> {
    const run = this.#run().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #run(): Promise<void> {
    this.assertHealthy();
    try {
      await this.#flush();
    } catch (error) {
      if (!this.#failed) {
        this.#failed = true;
        this.#onFailure(error);
      }
      throw new KeywardError('unavailable', BROKEN);
    }
  }
}

/**
 * SQLite with `synchronous = NORMAL` made as durable as `FULL`, without the
 * fsync on the event loop: a commit writes its frames to the WAL as usual,
 * and the connection is released at once (the next transaction may begin);
 * then the caller waits for a group flush of the WAL in the thread pool
 * before its transaction (or autocommit write) resolves. So a committed
 * write is durable before anyone is told it happened, concurrent commits
 * share one fsync, and requests keep running while the disk works.
 *
 * Another request may read a committed row before its flush completes; any
 * request that writes (every audited one) then waits for a flush covering
 * it, since the WAL is append-only and each flush covers everything
 * written before it.
 *
 * Waiting for the write lock does not block the event loop either: the
 * connection's `begin` must fail at once with SQLITE_BUSY while another
 * process holds the lock (sqlite-store.ts begins with a busy timeout of
 * 0), and the driver tries again on a later turn of the loop, for up to
 * `lockWaitMs`, then answers 503 `unavailable`. SQLite's own busy handler
 * would sleep on the thread instead — 1 ms at least, while the holder
 * commits within a fraction of that —, stalling every request of the
 * process. The transaction's body still runs within one turn once it has
 * begun; only the wait before it yields.
 */
export class DurableSqliteDialect extends SqliteDialect {
  readonly #flushes: FlushGroup;
  readonly #options: DurableOptions;

  constructor(config: SqliteDialectConfig, flushes: FlushGroup, options: DurableOptions = {}) {
    super(config);
    this.#flushes = flushes;
    this.#options = options;
  }

  override createDriver(): Driver {
    return new DurableDriver(super.createDriver(), this.#flushes, this.#options);
  }
}

export interface DurableOptions {
  /** Runs after the database is closed (the WAL file's descriptor). */
  onDestroy?: () => Promise<void>;
  /** How long a transaction waits for another process to release the write lock (default 5,000 ms). */
  lockWaitMs?: number;
}

const LOCK_WAIT_MS = 5_000;
/** Retries on the next turn of the loop first, then after 1, 2 and 4 ms, then every 4 ms. */
const RETRIES_ON_NEXT_TURN = 3;
const MAX_RETRY_DELAY_MS = 4;

function lockRetryDelay(attempt: number): Promise<void> {
  if (attempt < RETRIES_ON_NEXT_TURN) return new Promise((resolve) => setImmediate(resolve));
  const ms = Math.min(2 ** (attempt - RETRIES_ON_NEXT_TURN), MAX_RETRY_DELAY_MS);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** SQLITE_BUSY and its extended codes (such as SQLITE_BUSY_RECOVERY while another process recovers the WAL): a `begin` that failed so changed nothing. */
function isBusy(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

class DurableDriver implements Driver {
  readonly #inner: Driver;
  readonly #flushes: FlushGroup;
  /** The one connection (SQLite has one), wrapped to see what it writes. */
  #connection: TrackedConnection | null = null;
  readonly #onDestroy: () => Promise<void>;
  readonly #lockWaitMs: number;

  constructor(inner: Driver, flushes: FlushGroup, options: DurableOptions) {
    this.#inner = inner;
    this.#flushes = flushes;
    this.#onDestroy = options.onDestroy ?? (async () => {});
    this.#lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  }

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#flushes.assertHealthy();
    const inner = await this.#inner.acquireConnection();
    if (this.#connection?.inner !== inner) this.#connection = new TrackedConnection(inner);
    this.#connection.inTransaction = false;
    this.#connection.wrote = false;
    this.#connection.committed = false;
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const tracked = connection as TrackedConnection;
    tracked.inTransaction = true;
    const deadline = performance.now() + this.#lockWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#inner.beginTransaction(tracked.inner, settings);
        return;
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (performance.now() >= deadline) {
          tracked.inTransaction = false;
          throw new KeywardError(
            'unavailable',
            `the database stayed locked by another process for ${this.#lockWaitMs} ms; nothing was changed, retry later`,
          );
        }
      }
      await lockRetryDelay(attempt);
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const tracked = connection as TrackedConnection;
    await this.#inner.commitTransaction(tracked.inner);
    tracked.inTransaction = false;
    tracked.committed ||= tracked.wrote;
    tracked.wrote = false;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const tracked = connection as TrackedConnection;
    tracked.inTransaction = false;
    tracked.wrote = false;
    await this.#inner.rollbackTransaction(tracked.inner);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const tracked = connection as TrackedConnection;
    const committed = tracked.committed;
    tracked.committed = false;
    await this.#inner.releaseConnection(tracked.inner);
    if (committed) await this.#flushes.flush();
  }

  async destroy(): Promise<void> {
    await this.#inner.destroy();
    await this.#onDestroy();
  }
}

class TrackedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  inTransaction = false;
  /** A statement other than a SELECT ran in the open transaction. */
  wrote = false;
  /** A write was committed since the connection was acquired. */
  committed = false;

  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    // Every statement but a SELECT may write (raw SQL included); outside a transaction it commits at once.
    if (compiledQuery.query.kind !== 'SelectQueryNode') {
      if (this.inTransaction) this.wrote = true;
      else this.committed = true;
    }
    return this.inner.executeQuery(compiledQuery);
  }

  streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery(compiledQuery, chunkSize);
  }
}
