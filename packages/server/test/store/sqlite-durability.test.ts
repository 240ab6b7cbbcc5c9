import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardError } from '@keyward/wire';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditSecrets } from '../../src/audit/audit-secrets.js';
import { systemClock } from '../../src/service/clock.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { FlushGroup } from '../../src/store/sqlite/wal-flush.js';
import type { Store, StoreOps } from '../../src/store/store.js';
import { settledAfter } from '../support/turns.js';
import { queuedAuditRecord } from './store-fixtures.js';

/**
 * The SQLite store runs with `synchronous = NORMAL` and flushes the WAL
 * itself, off the event loop: these tests hold the flush open and watch what
 * waits for it. (Power loss itself cannot be simulated here; what is proved
 * is that nothing that wrote resolves before a flush that began after it.)
 */
class HeldFlushes {
  started = 0;
  #release: Array<(error?: Error) => void> = [];

  readonly flush = (): Promise<void> => {
    this.started += 1;
    return new Promise((resolve, reject) => this.#release.push((error) => (error ? reject(error) : resolve())));
  };

  /** Completes the oldest flush still running. */
  complete(error?: Error): void {
    const release = this.#release.shift();
    if (release === undefined) throw new Error('no flush is running');
    release(error);
  }

  get running(): number {
    return this.#release.length;
  }
}

/** Whether `promise` has settled after the event loop has had a few turns to run. */
function settled(promise: Promise<unknown>): Promise<boolean> {
  return settledAfter(promise, 5);
}

describe('SQLite durability: commits wait for a WAL flush that began after them', () => {
  let dir: string;
  let flushes: HeldFlushes;
  let store: Store;
  let failures: unknown[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-durable-'));
    flushes = new HeldFlushes();
    failures = [];
    store = openSqliteStore({ path: join(dir, 'keyward.db'), flush: flushes.flush, onFlushError: (e) => failures.push(e) });
    const migrated = store.migrate();
    while (!(await settled(migrated))) flushes.complete();
    await migrated;
    while (flushes.running > 0) flushes.complete();
    flushes.started = 0;
  });

  afterEach(async () => {
    while (flushes.running > 0) flushes.complete();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a transaction resolves only after its flush, and the next transaction may begin meanwhile', async () => {
    const first = store.transaction((tx) => tx.setMeta('test.first', 'a'));
    expect(await settled(first)).toBe(false);
    expect(flushes.started).toBe(1);
    // The connection is free while the disk works: a second transaction commits, then waits its own flush.
    const second = store.transaction((tx) => tx.setMeta('test.second', 'b'));
    expect(await settled(second)).toBe(false);
    expect(await store.getMeta('test.second')).toBe('b');
    flushes.complete();
    await first;
    // The first flush began before the second commit, so it does not count for it.
    expect(await settled(second)).toBe(false);
    expect(flushes.started).toBe(2);
    flushes.complete();
    await second;
  });

  it('an autocommit write outside a transaction waits for a flush too', async () => {
    const write = store.setMeta('test.autocommit', 'x');
    expect(await settled(write)).toBe(false);
    expect(flushes.started).toBe(1);
    flushes.complete();
    await write;
  });

  it('reads, read-only transactions and rolled-back transactions flush nothing', async () => {
    await store.getMeta('test.nothing');
    await store.transaction(async (tx) => {
      await tx.getMeta('test.nothing');
    });
    await expect(
      store.transaction(async (tx) => {
        await tx.setMeta('test.rolled-back', 'x');
        throw new Error('abandoned');
      }),
    ).rejects.toThrow('abandoned');
    expect(flushes.started).toBe(0);
    expect(await store.getMeta('test.rolled-back')).toBeNull();
  });

  it('commits made while a flush runs share the next one', async () => {
    const first = store.transaction((tx) => tx.setMeta('test.g0', '0'));
    await settled(first);
    const waiting = Array.from({ length: 5 }, (_, i) => store.transaction((tx) => tx.setMeta(`test.g${i + 1}`, String(i))));
    for (const w of waiting) expect(await settled(w)).toBe(false);
    expect(flushes.started).toBe(1);
    flushes.complete();
    await first;
    await settled(Promise.resolve());
    expect(flushes.started).toBe(2);
    flushes.complete();
    await Promise.all(waiting);
    expect(flushes.started).toBe(2);
  });

  // Sealed, so the secrets (and the keyring behind them) are never reached: records carry no sensitive values.
  const auditLog = (through: Store = store) =>
    new AuditLog({
      store: through,
      node: 'node-a',
      clock: systemClock,
      secrets: new AuditSecrets({ store, keyring: undefined as never, isSealed: () => true }),
    });

  it('audit group commits overlap: the next batch is committed while the previous one waits for the disk', async () => {
    const audit = auditLog();
    const first = audit.record(queuedAuditRecord('first'));
    expect(await settled(first)).toBe(false);
    expect(flushes.started).toBe(1);
    const second = audit.record(queuedAuditRecord('second'));
    const third = audit.record(queuedAuditRecord('third'));
    expect(await settled(second)).toBe(false);
    // Both later records are committed, chained after the first, while its flush is still held.
    const chain = await store.listAuditChain('node-a', 0, 10);
    expect(chain.map((r) => [r.chainSeq, r.action])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
    ]);
    expect(chain[1]?.prevHash).toBe(chain[0]?.hash);
    expect(audit.backlog).toBe(3);
    flushes.complete();
    await first;
    expect(await settled(second)).toBe(false);
    flushes.complete();
    await Promise.all([second, third]);
    expect(audit.backlog).toBe(0);
  });

  it('a batch started from inside the previous batch’s transaction is not mistaken for a nested transaction', async () => {
    // The first batch locks its chain head only when the test says so: a record queued meanwhile arrives
    // while that batch is chaining, so the batch's transaction callback schedules the next one.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let hold = true;
    const bound = <T extends object>(target: T, property: PropertyKey): unknown => {
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    };
    const holding = (tx: StoreOps): StoreOps =>
      new Proxy(tx, {
        get(target, property) {
          if (property !== 'lockAuditHead' || !hold) return bound(target, property);
          hold = false;
          return async (chain: string) => {
            await held;
            return target.lockAuditHead(chain);
          };
        },
      });
    const slowStore = new Proxy(store, {
      get(target, property) {
        if (property !== 'transaction') return bound(target, property);
        return <T>(fn: (tx: StoreOps) => Promise<T>) => target.transaction((tx) => fn(holding(tx)));
      },
    });
    const audit = auditLog(slowStore);
    const first = audit.record(queuedAuditRecord('first'));
    expect(await settled(first)).toBe(false);
    const second = audit.record(queuedAuditRecord('second'));
    expect(await settled(second)).toBe(false);
    release();
    while (!(await settled(Promise.all([first, second])))) if (flushes.running > 0) flushes.complete();
    await Promise.all([first, second]);
    expect((await store.listAuditChain('node-a', 0, 10)).map((r) => [r.chainSeq, r.action])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
  });

  it('a failed flush fails its commit with 503 and the store refuses all later work, reads included', async () => {
    const write = store.transaction((tx) => tx.setMeta('test.lost', 'x'));
    await settled(write);
    flushes.complete(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    const error = await write.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe('unavailable');
    expect((error as KeywardError).message).toMatch(/could not be flushed to disk/);
    expect(failures).toHaveLength(1);
    expect((failures[0] as Error).message).toMatch(/EIO/);
    await expect(store.getMeta('test.lost')).rejects.toMatchObject({ code: 'unavailable' });
    await expect(store.transaction((tx) => tx.setMeta('test.after', 'y'))).rejects.toMatchObject({ code: 'unavailable' });
    expect(flushes.started).toBe(1);
    expect(failures).toHaveLength(1);
  });
});

/** How many of this process's file descriptors are open on `path` (Linux). */
function openDescriptors(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
}

describe('SQLite durability with the real fdatasync', () => {
  it('commits, flushes the WAL file and reopens with the data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kw-durable-'));
    try {
      const path = join(dir, 'keyward.db');
      const failures: unknown[] = [];
      let store = openSqliteStore({ path, onFlushError: (e) => failures.push(e) });
      await store.migrate();
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.transaction((tx) => tx.setMeta(`test.real${i}`, String(i)))));
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
      // SQLite's own descriptor and the flusher's.
      expect(openDescriptors(`${path}-wal`)).toBe(2);
      await store.close();
      expect(openDescriptors(`${path}-wal`)).toBe(0);
      store = openSqliteStore({ path });
      expect(await store.getMeta('test.real19')).toBe('19');
      await store.close();
      expect(failures).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('FlushGroup', () => {
  it('never runs two flushes at once and gives each caller a flush that began after it asked', async () => {
    const held = new HeldFlushes();
    const group = new FlushGroup(held.flush);
    const a = group.flush();
    const b = group.flush();
    const c = group.flush();
    expect(held.started).toBe(1);
    held.complete();
    await a;
    expect(await settled(b)).toBe(false);
    expect(held.started).toBe(2);
    expect(held.running).toBe(1);
    const d = group.flush();
    held.complete();
    await Promise.all([b, c]);
    expect(await settled(d)).toBe(false);
    expect(held.started).toBe(3);
    held.complete();
    await d;
  });
});
