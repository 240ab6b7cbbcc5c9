import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import type { KeyRecord } from '../../src/store/records.js';
import { StoreVersionError } from '../../src/store/store.js';
import type { StoreKind } from '../support/stores.js';
import { describeKeyConformance } from './key-conformance.js';
import { describeRecordConformance } from './record-conformance.js';
import {
  auditRecord,
  binary,
  bytes,
  grantRecord,
  keyRecord,
  principalRecord,
  rejection,
  tokenRecord,
  useStores,
  versionRecord,
} from './store-fixtures.js';

const names = (keys: readonly KeyRecord[]): string[] => keys.map((k) => k.name);

/**
 * The contract of `Store` (src/store/store.ts), run against a real database of
 * each kind: a SQLite file, and a PostgreSQL server when the run has one.
 * Keys and the other records live in key-conformance.ts and record-conformance.ts.
 *
 * @example
 * for (const kind of STORE_KINDS) describeStoreConformance(kind);
 */
export function describeStoreConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}`, () => {
    const open = useStores(kind);

    describe('migrations', () => {
      it('migrates a fresh database, then migrating again changes nothing', async () => {
        const { store } = await open({ migrate: false });
        await store.migrate();
        expect(store.dialect).toBe(kind);
        expect(await store.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
        const key = keyRecord();
        await store.insertKey(key);

        await store.migrate();
        await store.migrate();
        expect(await store.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
        expect(await store.getKeyById(key.id)).toEqual(key);
      });

      it('refuses a database written by a newer Keyward', async () => {
        const { store, db } = await open();
        await db.raw('UPDATE meta SET value = ? WHERE name = ?', [String(SCHEMA_VERSION + 1), 'schema_version']);
        const error = await rejection(store.migrate());
        expect(error).toBeInstanceOf(StoreVersionError);
        expect(await store.getMeta('schema_version')).toBe(String(SCHEMA_VERSION + 1));
      });

      it('refuses a database whose schema version is not a number', async () => {
        const { store, db } = await open();
        await db.raw('UPDATE meta SET value = ? WHERE name = ?', ['2.5', 'schema_version']);
        expect(await rejection(store.migrate())).toBeInstanceOf(StoreVersionError);
      });
    });

    describe('meta', () => {
      it('gets null for a missing name, sets, and upserts', async () => {
        const { store } = await open();
        expect(await store.getMeta('cluster_id')).toBeNull();
        await store.setMeta('cluster_id', 'first');
        await store.setMeta('other', 'x');
        expect(await store.getMeta('cluster_id')).toBe('first');
        await store.setMeta('cluster_id', 'second');
        expect(await store.getMeta('cluster_id')).toBe('second');
        expect(await store.getMeta('other')).toBe('x');
        await store.setMeta('empty', '');
        expect(await store.getMeta('empty')).toBe('');
      });
    });

    describe('KEKs', () => {
      it('returns the newest KEK of a namespace, a given version, or null', async () => {
        const { store } = await open();
        const keks = [
          { namespace: 'payments', version: 1, wrapped: binary(), createdAt: '2026-01-01T00:00:00.000Z' },
          { namespace: 'payments', version: 3, wrapped: binary(), createdAt: '2026-03-01T00:00:00.000Z' },
          { namespace: 'payments', version: 2, wrapped: binary(), createdAt: '2026-02-01T00:00:00.000Z' },
          { namespace: 'ledger', version: 7, wrapped: binary(), createdAt: '2026-04-01T00:00:00.000Z' },
        ];
        for (const kek of keks) await store.insertKek(kek);

        expect(await store.getKek('payments')).toEqual(keks[1]);
        expect(await store.getKek('payments', 1)).toEqual(keks[0]);
        expect(await store.getKek('payments', 2)).toEqual(keks[2]);
        expect(await store.getKek('ledger')).toEqual(keks[3]);
        expect(await store.getKek('payments', 7)).toBeNull();
        expect(await store.getKek('nowhere')).toBeNull();
        expect(await store.getKek('nowhere', 1)).toBeNull();
      });

      it('round-trips wrapped bytes exactly, every byte value included', async () => {
        const { store } = await open();
        const every = new Uint8Array(512);
        for (let i = 0; i < every.length; i++) every[i] = i % 256;
        const random = binary(4096);
        await store.insertKek({ namespace: 'a', version: 1, wrapped: every, createdAt: '2026-01-01T00:00:00.000Z' });
        await store.insertKek({ namespace: 'b', version: 1, wrapped: random, createdAt: '2026-01-01T00:00:00.000Z' });
        // A view into a larger buffer: only the viewed bytes may be stored.
        const view = binary(100).subarray(10, 42);
        await store.insertKek({ namespace: 'c', version: 1, wrapped: view, createdAt: '2026-01-01T00:00:00.000Z' });

        const a = await store.getKek('a', 1);
        expect(a?.wrapped).toBeInstanceOf(Uint8Array);
        expect(bytes(a!.wrapped)).toEqual(bytes(every));
        expect(bytes((await store.getKek('b'))!.wrapped)).toEqual(bytes(random));
        expect(bytes((await store.getKek('c'))!.wrapped)).toEqual(bytes(view));
      });

      it('never replaces an existing KEK version', async () => {
        const { store } = await open();
        const first = { namespace: 'payments', version: 1, wrapped: binary(), createdAt: '2026-01-01T00:00:00.000Z' };
        await store.insertKek(first);
        await rejection(store.insertKek({ ...first, wrapped: binary() }));
        expect(bytes((await store.getKek('payments', 1))!.wrapped)).toEqual(bytes(first.wrapped));
      });
    });

    describeKeyConformance(open);
    describeRecordConformance(open);

    describe('transactions', () => {
      it('commits every write together and returns the callback value', async () => {
        const { store } = await open();
        const key = keyRecord({ tags: { app: 'billing' } });
        const result = await store.transaction(async (tx) => {
          await tx.insertKey(key);
          await tx.insertVersion(versionRecord(key.id, 1));
          await tx.appendAudit([auditRecord({ action: 'key.create' })]);
          await tx.setMeta('touched', 'yes');
          return 'done';
        });
        expect(result).toBe('done');
        expect(await store.getKeyById(key.id)).toEqual(key);
        expect(await store.getVersions(key.id)).toHaveLength(1);
        expect((await store.listAudit(0, 10)).map((r) => r.action)).toEqual(['key.create']);
        expect(await store.getMeta('touched')).toBe('yes');
        expect(names(await store.listKeys('payments', { tag: { key: 'app', value: 'billing' } }, 10, null))).toEqual([key.name]);
      });

      it('rolls back every write when the callback throws, and rethrows the same error', async () => {
        const { store } = await open();
        const existing = keyRecord({ name: 'existing', description: 'before' });
        await store.insertKey(existing);
        await store.insertVersion(versionRecord(existing.id, 1));
        const key = keyRecord({ name: 'doomed', tags: { app: 'billing' } });
        const boom = new Error('boom');

        const error = await rejection(
          store.transaction(async (tx) => {
            await tx.insertKey(key);
            await tx.insertVersion(versionRecord(key.id, 1));
            await tx.appendAudit([auditRecord()]);
            await tx.updateKey({ ...existing, description: 'after' });
            await tx.addUses(existing.id, 1, 10);
            await tx.setMeta('touched', 'yes');
            throw boom;
          }),
        );
        expect(error).toBe(boom);
        expect(await store.getKey('payments', 'doomed')).toBeNull();
        expect(await store.getKeyById(key.id)).toBeNull();
        expect(await store.getVersions(key.id)).toEqual([]);
        expect(await store.listAudit(0, 10)).toEqual([]);
        expect(await store.getMeta('touched')).toBeNull();
        expect(await store.getKeyById(existing.id)).toEqual(existing);
        expect((await store.getVersions(existing.id))[0]!.uses).toBe(0);
        expect(await store.listKeys('payments', { tag: { key: 'app', value: 'billing' } }, 10, null)).toEqual([]);
        // The store is usable afterwards, and the name is free.
        await store.insertKey(key);
        expect(await store.getKeyById(key.id)).toEqual(key);
      });

      it('sees its own writes inside the transaction', async () => {
        const { store } = await open();
        const key = keyRecord({ name: 'fresh', tags: { app: 'billing' } });
        await store.transaction(async (tx) => {
          await tx.insertKey(key);
          await tx.insertVersion(versionRecord(key.id, 1));
          await tx.addUses(key.id, 1, 3);
          await tx.appendAudit([auditRecord({ action: 'inside' })]);
          expect(await tx.getKey('payments', 'fresh')).toEqual(key);
          expect(await tx.getKeyById(key.id)).toEqual(key);
          expect(names(await tx.listKeys('payments', { tag: { key: 'app', value: 'billing' } }, 10, null))).toEqual(['fresh']);
          expect((await tx.getVersions(key.id))[0]!.uses).toBe(3);
          expect((await tx.listAudit(0, 10)).map((r) => r.action)).toEqual(['inside']);
        });
      });

      it('rejects use of the outer store inside the callback instead of deadlocking', async () => {
        const { store } = await open();
        const key = keyRecord();
        const outcome = store.transaction(async (tx) => {
          await tx.insertKey(key);
          const timeout = new Promise<'deadlock'>((resolve) => setTimeout(() => resolve('deadlock'), 3000).unref());
          const outer = await Promise.race([rejection(store.getKeyById(key.id)), timeout]);
          expect(outer).toBeInstanceOf(Error);
          expect(String((outer as Error).message)).toMatch(/transaction/);
          const nested = await Promise.race([rejection(store.transaction(async () => 'nested')), timeout]);
          expect(nested).toBeInstanceOf(Error);
          return 'ok';
        });
        expect(await outcome).toBe('ok');
        expect(await store.getKeyById(key.id)).toEqual(key);
      });
    });

    describe('persistence', () => {
      it('keeps every kind of record across close and reopen', async () => {
        const { store, db } = await open();
        const key = keyRecord({ tags: { app: 'billing' }, maxUsesPerVersion: 2 ** 40 });
        const version = versionRecord(key.id, 1);
        const kek = { namespace: 'payments', version: 1, wrapped: binary(), createdAt: '2026-06-01T00:00:00.000Z' };
        const principal = principalRecord('alice', { roles: ['admin'] });
        const token = tokenRecord('alice');
        const grant = grantRecord(key.id);
        const audit = auditRecord({ details: { n: 1 } });
        await store.setMeta('cluster_id', 'c-1');
        await store.insertKek(kek);
        await store.insertKey(key);
        await store.insertVersion(version);
        await store.addUses(key.id, 1, 4);
        await store.insertPrincipal(principal);
        await store.insertToken(token);
        await store.insertGrant(grant);
        await store.appendAudit([audit]);
        const seq = (await store.listAudit(0, 1))[0]!.seq;
        await store.close();

        const reopened = db.open();
        try {
          await reopened.migrate();
          expect(await reopened.getMeta('schema_version')).toBe(String(SCHEMA_VERSION));
          expect(await reopened.getMeta('cluster_id')).toBe('c-1');
          expect(await reopened.getKek('payments')).toEqual(kek);
          expect(await reopened.getKeyById(key.id)).toEqual(key);
          expect(names(await reopened.listKeys('payments', { tag: { key: 'app', value: 'billing' } }, 10, null))).toEqual([key.name]);
          expect(await reopened.getVersions(key.id)).toEqual([{ ...version, uses: 4 }]);
          expect(await reopened.getPrincipal('alice')).toEqual(principal);
          expect(await reopened.getTokenByHash(token.tokenHash)).toEqual(token);
          expect(await reopened.listGrants(key.id)).toEqual([grant]);
          expect(await reopened.listAudit(0, 10)).toEqual([{ ...audit, seq }]);
          await reopened.appendAudit([auditRecord()]);
          expect((await reopened.listAudit(seq, 10))[0]!.seq).toBeGreaterThan(seq);
        } finally {
          await reopened.close();
        }
      });
    });
  });
}
