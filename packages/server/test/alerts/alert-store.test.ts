import Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../src/store/alert-records.js';
import { v7Alerts } from '../../src/store/migrations/v7-alerts.js';
import type { Database } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores.js';

/**
 * Migration 7 and the alert tables on both dialects: events without a key,
 * the SQLite rebuild of `events` keeping ids and the AUTOINCREMENT mark,
 * one unresolved alert per dedup key, detector state and cursors.
 */
const opened: Array<{ store: Store; test: TestStore }> = [];
afterEach(async () => {
  for (const { store, test } of opened.splice(0)) {
    await store.close();
    await test.destroy();
  }
});

async function open(kind: (typeof STORE_KINDS)[number]): Promise<{ store: Store; test: TestStore }> {
  const test = await freshStore(kind);
  const store = test.open();
  await store.migrate();
  const entry = { store, test };
  opened.push(entry);
  return entry;
}

/** A Kysely instance on the test database, to run one migration by itself. */
function kyselyFor(test: TestStore): Kysely<Database> {
  return new Kysely<Database>({
    dialect:
      test.kind === 'sqlite'
        ? new SqliteDialect({ database: new Sqlite(test.location) })
        : new PostgresDialect({ pool: new pg.Pool({ connectionString: test.location, max: 1 }) }),
  });
}

const alert = (over: Partial<AlertRecord> = {}): AlertRecord => ({
  id: crypto.randomUUID(),
  type: 'auth_failure_burst',
  severity: 'medium',
  state: 'open',
  dedupKey: 'k1',
  subject: { namespace: null, key: null, version: null, principal: null, source: '203.0.113.1' },
  summary: 's',
  firstSeen: '2026-06-01T00:00:00.000Z',
  lastSeen: '2026-06-01T00:00:00.000Z',
  count: 1,
  evidence: { facts: { inWindow: 5 }, records: [] },
  nextSteps: ['look'],
  raisedAt: '2026-06-01T00:00:00.000Z',
  updatedAt: '2026-06-01T00:00:00.000Z',
  acknowledgedAt: null,
  acknowledgedBy: null,
  acknowledgeNote: null,
  resolvedAt: null,
  resolvedBy: null,
  resolveNote: null,
  ...over,
});

const keyEvent = (n: number) => ({
  type: 'key.created' as const,
  time: `2026-06-01T00:00:0${n}.000Z`,
  namespace: 'default',
  key: `k${n}`,
  keyId: `id-${n}`,
  version: 1,
  data: { algorithm: 'aes-256-gcm' },
});

describe.each(STORE_KINDS)('alert store (%s)', (kind) => {
  it('migration 7 on a database with events: rows and ids kept, later ids never reused, keyless events stored', async () => {
    const { store, test } = await open(kind);
    // Back to schema 6 as it was: no alert tables, key columns of events NOT NULL, three events of which the last was removed.
    await test.raw('drop table alerts');
    await test.raw('drop table alert_states');
    await test.raw('drop table alert_cursors');
    if (kind === 'sqlite') {
      await test.raw('drop table events');
      await test.raw(
        'create table events (id integer primary key autoincrement, time text not null, type text not null, namespace text not null, key_name text not null, key_id text not null, key_version integer, data text not null)',
      );
    } else {
      for (const column of ['namespace', 'key_name', 'key_id']) await test.raw(`alter table events alter column ${column} set not null`);
    }
    await store.appendEvents([keyEvent(1), keyEvent(2), keyEvent(3)]);
    await test.raw('delete from events where id = 3');
    await store.close();
    // Migration 7 alone, as migrate() runs it: in a transaction.
    const db = kyselyFor(test);
    try {
      await db.transaction().execute((tx) => v7Alerts.up(tx, kind));
    } finally {
      await db.destroy();
    }
    const reopened = test.open();
    opened[opened.length - 1] = { store: reopened, test };

    expect((await reopened.listEvents(0, 10)).map((e) => [e.id, e.key, e.keyId])).toEqual([
      [1, 'k1', 'id-1'],
      [2, 'k2', 'id-2'],
    ]);
    await reopened.appendEvents([
      {
        type: 'alert.raised',
        time: '2026-06-01T00:01:00.000Z',
        namespace: null,
        key: null,
        keyId: null,
        version: null,
        data: { alertId: 'a' },
      },
    ]);
    const events = await reopened.listEvents(2, 10);
    expect(events).toEqual([
      {
        id: 4,
        type: 'alert.raised',
        time: '2026-06-01T00:01:00.000Z',
        namespace: null,
        key: null,
        keyId: null,
        version: null,
        data: { alertId: 'a' },
      },
    ]);
    expect(await reopened.lastEventId()).toBe(4);
  });

  it('one unresolved alert per dedup key; a resolved one does not block a new one', async () => {
    const { store } = await open(kind);
    const first = alert();
    await store.insertAlert(first);
    await expect(store.insertAlert(alert())).rejects.toThrow();
    await store.updateAlert({ ...first, state: 'acknowledged' });
    await expect(store.insertAlert(alert())).rejects.toThrow();
    await store.updateAlert({ ...first, state: 'resolved', resolveNote: 'done' });
    const second = alert({ count: 3 });
    await store.insertAlert(second);
    expect((await store.findUnresolvedAlerts(['k1', 'other'])).map((a) => a.id)).toEqual([second.id]);
    expect(await store.getAlert(first.id)).toMatchObject({ state: 'resolved', resolveNote: 'done', evidence: first.evidence });
    expect((await store.listAlerts({}, 10, null)).map((a) => a.id)).toEqual([second.id, first.id]);
    expect((await store.listAlerts({ state: 'resolved' }, 10, null)).map((a) => a.id)).toEqual([first.id]);
    expect(await store.countAlerts('open')).toEqual([{ type: 'auth_failure_burst', count: 1 }]);
  });

  it('detector state and cursors: upsert, delete, prune', async () => {
    const { store } = await open(kind);
    await store.putDetectorStates(
      'd',
      [
        { subject: 'a', state: '{"x":1}' },
        { subject: 'b', state: '{"x":2}' },
      ],
      '2026-06-01T00:00:00.000Z',
    );
    await store.putDetectorStates(
      'd',
      [
        { subject: 'a', state: '{"x":3}' },
        { subject: 'b', state: null },
      ],
      '2026-06-02T00:00:00.000Z',
    );
    await store.putDetectorStates('e', [{ subject: 'a', state: '{}' }], '2026-06-01T00:00:00.000Z');
    expect([...(await store.getDetectorStates('d', ['a', 'b', 'c']))]).toEqual([['a', '{"x":3}']]);
    expect(await store.pruneDetectorStates('e', '2026-06-01T12:00:00.000Z')).toBe(1);
    expect(await store.pruneDetectorStates('d', '2026-06-01T12:00:00.000Z')).toBe(0);
    await store.saveAlertCursors([{ chain: 'n1', chainSeq: 5 }]);
    await store.saveAlertCursors([
      { chain: 'n1', chainSeq: 9 },
      { chain: 'n2', chainSeq: 1 },
    ]);
    expect(await store.listAlertCursors()).toEqual([
      { chain: 'n1', chainSeq: 9 },
      { chain: 'n2', chainSeq: 1 },
    ]);
  });
});
