import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { KeywardError } from '@keyward/wire';
import Sqlite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditSecrets } from '../../src/audit/audit-secrets.js';
import { systemClock } from '../../src/service/clock.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { settledAfter } from '../support/turns.js';
import { queuedAuditRecord } from './store-fixtures.js';

/**
 * With `--workers N` several processes share one SQLite file and take turns
 * on its write lock. Another connection stands in for the other worker
 * here: it holds the lock in an open `BEGIN IMMEDIATE` for as long as the
 * test says.
 */
describe('SQLite: waiting for another process’s write lock', () => {
  let dir: string;
  let path: string;
  let stores: Store[];
  let other: Sqlite.Database | undefined;

  const open = async (lockWaitMs?: number): Promise<Store> => {
    const store = openSqliteStore({ path, ...(lockWaitMs === undefined ? {} : { lockWaitMs }) });
    stores.push(store);
    await store.migrate();
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kw-lock-'));
    path = join(dir, 'keyward.db');
    stores = [];
    other = undefined;
  });

  afterEach(async () => {
    if (other?.inTransaction) other.exec('rollback');
    other?.close();
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a transaction waits on later turns of the event loop, then begins on a fresh snapshot and commits', async () => {
    const store = await open();
    other = new Sqlite(path);
    other.exec('begin immediate');
    other.prepare('insert into meta (name, value) values (?, ?)').run('test.other', 'written while holding the lock');

    let seen: string | null = null;
    const tx = store.transaction(async (t) => {
      seen = await t.getMeta('test.other');
      await t.setMeta('test.mine', 'after the wait');
    });
    // SQLite's busy handler would sleep on this thread until the lock came free (or 5 s passed), so
    // the transaction would have settled before any other callback ran. Here the loop keeps turning.
    for (let turn = 0; turn < 20; turn++) expect(await settledAfter(tx, 1)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await settledAfter(tx, 1)).toBe(false);

    other.exec('commit');
    await tx;
    expect(seen).toBe('written while holding the lock');
    expect(await store.getMeta('test.mine')).toBe('after the wait');
  });

  it('a transaction that cannot get the lock in time is refused with 503 unavailable and changes nothing', async () => {
    const store = await open(25);
    other = new Sqlite(path);
    other.exec('begin immediate');

    let ran = false;
    const refused = await store
      .transaction(async (t) => {
        ran = true;
        await t.setMeta('test.refused', 'x');
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KeywardError);
    expect((refused as KeywardError).code).toBe('unavailable');
    expect((refused as KeywardError).message).toMatch(/locked by another process for 25 ms/);
    expect(ran).toBe(false);

    // The connection is not left inside a transaction: once the lock is free, the next one commits.
    other.exec('rollback');
    expect(await store.getMeta('test.refused')).toBeNull();
    await store.transaction((t) => t.setMeta('test.next', 'y'));
    expect(other.prepare('select value from meta where name = ?').pluck().get('test.next')).toBe('y');
  });

  it('two stores on one file (two workers) interleave their transactions without losing one', async () => {
    const a = await open();
    const b = await open();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(a.transaction((t) => t.setMeta(`test.a.${i}`, String(i))));
      writes.push(b.transaction((t) => t.setMeta(`test.b.${i}`, String(i))));
    }
    await Promise.all(writes);
    other = new Sqlite(path);
    const count = other.prepare("select count(*) from meta where name like 'test.%'").pluck().get();
    expect(count).toBe(100);
  });

  /** An audit log whose group commit sizes are noted (sealed: records carry no sensitive values). */
  const auditLog = (store: Store) => {
    const audit = new AuditLog({
      store,
      node: 'node-a',
      clock: systemClock,
      secrets: new AuditSecrets({ store, keyring: undefined as never, isSealed: () => true }),
    });
    const commits: Array<{ records: number; ok: boolean }> = [];
    audit.onWrite((records, _seconds, ok) => commits.push({ records, ok }));
    return { audit, commits };
  };

  it('audit records queued while a group commit waits for the lock join that commit', async () => {
    const store = await open();
    const { audit, commits } = auditLog(store);
    other = new Sqlite(path);
    other.exec('begin immediate');
    const first = audit.record(queuedAuditRecord('first'));
    expect(await settledAfter(first, 5)).toBe(false);
    // The commit that will carry `first` is waiting for the lock; these arrive meanwhile.
    const later = [audit.record(queuedAuditRecord('second')), audit.record(queuedAuditRecord('third'))];
    expect(await settledAfter(Promise.race(later), 5)).toBe(false);
    expect(audit.backlog).toBe(3);
    other.exec('commit');
    await Promise.all([first, ...later]);
    // One commit of all three (the batch is taken once the lock is held), not one of `first` and then another.
    expect(commits).toEqual([{ records: 3, ok: true }]);
    const chain = await store.listAuditChain('node-a', 0, 10);
    expect(chain.map((r) => [r.chainSeq, r.action])).toEqual([
      [1, 'first'],
      [2, 'second'],
      [3, 'third'],
    ]);
    expect(audit.backlog).toBe(0);
  });

  it('audit records waiting for a lock that never comes are refused with 503, write nothing, and the log recovers', async () => {
    const store = await open(25);
    const { audit, commits } = auditLog(store);
    other = new Sqlite(path);
    other.exec('begin immediate');
    const first = audit.record(queuedAuditRecord('first'));
    await settledAfter(first, 2);
    const second = audit.record(queuedAuditRecord('second'));
    for (const refused of await Promise.all([first, second].map((p) => p.catch((error: unknown) => error)))) {
      expect(refused).toBeInstanceOf(KeywardError);
      expect((refused as KeywardError).code).toBe('unavailable');
    }
    expect(commits.every((c) => !c.ok)).toBe(true);
    expect(commits.reduce((n, c) => n + c.records, 0)).toBe(2);
    expect(audit.backlog).toBe(0);
    other.exec('rollback');
    expect(await store.listAuditChain('node-a', 0, 10)).toEqual([]);
    await audit.record(queuedAuditRecord('after'));
    expect((await store.listAuditChain('node-a', 0, 10)).map((r) => [r.chainSeq, r.action])).toEqual([[1, 'after']]);
  });

  it('other statements keep SQLite’s own wait: the busy timeout is restored after each begin', async () => {
    const store = await open();
    await store.transaction((t) => t.setMeta('test.first', '1'));
    // A thread holds the write lock for a moment; an autocommit write meanwhile waits in SQLite's
    // busy handler and succeeds (with the begin's timeout of 0 left in place it would fail at once).
    const holder = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const db = new (require(workerData.module))(workerData.path);
       db.exec('begin immediate');
       parentPort.postMessage('locked');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
       db.exec('commit');
       db.close();`,
      { eval: true, workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path } },
    );
    const exited = once(holder, 'exit');
    await once(holder, 'message');
    await store.setMeta('test.autocommit', 'waited');
    expect(await exited).toEqual([0]);
    expect(await store.getMeta('test.autocommit')).toBe('waited');
  });
});
