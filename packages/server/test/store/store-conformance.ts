import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/store/migrations.js';
import type { KeyFilter, KeyRecord } from '../../src/store/records.js';
import { type Store, StoreConflictError, StoreVersionError } from '../../src/store/store.js';
import type { StoreKind } from '../support/stores.js';
import {
  auditRecord,
  binary,
  grantRecord,
  keyRecord,
  principalRecord,
  rejection,
  tokenRecord,
  useStores,
  versionRecord,
} from './store-fixtures.js';

const bytes = (value: Uint8Array | null): number[] | null => (value === null ? null : Array.from(value));
const names = (keys: readonly KeyRecord[]): string[] => keys.map((k) => k.name);
/** Zero-padded ASCII names sort the same under every collation (byte order, C, ICU, glibc locales). */
const numbered = (i: number): string => `k${String(i).padStart(4, '0')}`;

/** Every key of `namespace`, page by page, so the listing under test is also the one that counts. */
async function listAll(store: Store, namespace: string, filter: KeyFilter, pageSize: number): Promise<KeyRecord[]> {
  const all: KeyRecord[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.listKeys(namespace, filter, pageSize, after);
    expect(page.length).toBeLessThanOrEqual(pageSize);
    all.push(...page);
    if (page.length < pageSize) return all;
    after = page[page.length - 1]!.name;
  }
}

/** Keys that differ in every filterable attribute, for the listKeys tests. */
function filterFixture(): KeyRecord[] {
  return [
    keyRecord({
      name: 'k01',
      owner: 'team-a',
      class: 'critical',
      environment: 'prod',
      state: 'enabled',
      algorithm: 'aes-256-gcm',
      tags: { app: 'billing', tier: 'gold' },
    }),
    keyRecord({
      name: 'k02',
      owner: 'team-a',
      class: 'high',
      environment: 'dev',
      state: 'disabled',
      algorithm: 'ed25519',
      usage: 'sign',
      tags: { app: 'billing' },
    }),
    keyRecord({
      name: 'k03',
      owner: 'team-b',
      class: 'critical',
      environment: 'dev',
      state: 'enabled',
      algorithm: 'hmac-sha256',
      usage: 'mac',
      tags: { app: 'ledger', tier: 'gold' },
    }),
    keyRecord({
      name: 'k04',
      owner: 'team-b',
      class: 'standard',
      environment: 'prod',
      state: 'pending_deletion',
      algorithm: 'aes-256-gcm',
      tags: {},
    }),
    keyRecord({
      name: 'k05',
      owner: 'team-c',
      class: 'low',
      environment: 'staging',
      state: 'enabled',
      algorithm: 'ecdsa-p256',
      usage: 'sign',
      tags: { tier: 'silver' },
    }),
    keyRecord({
      name: 'k06',
      owner: 'team-a',
      class: 'critical',
      environment: 'prod',
      state: 'enabled',
      algorithm: 'aes-256-gcm',
      tags: { app: 'ledger' },
    }),
  ];
}

function matches(key: KeyRecord, filter: KeyFilter): boolean {
  if (filter.owner !== undefined && key.owner !== filter.owner) return false;
  if (filter.class !== undefined && key.class !== filter.class) return false;
  if (filter.environment !== undefined && key.environment !== filter.environment) return false;
  if (filter.state !== undefined && key.state !== filter.state) return false;
  if (filter.algorithm !== undefined && key.algorithm !== filter.algorithm) return false;
  if (filter.tag !== undefined && key.tags[filter.tag.key] !== filter.tag.value) return false;
  return true;
}

/**
 * The contract of `Store` (src/store/store.ts), run against a real database of
 * each kind: a SQLite file, and a PostgreSQL server when the run has one.
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

    describe('keys', () => {
      it('round-trips every field by name and by id', async () => {
        const { store } = await open();
        const full = keyRecord({
          name: 'card-data',
          algorithm: 'ecdsa-p384',
          usage: 'sign',
          state: 'pending_deletion',
          owner: 'Team Payments',
          class: 'critical',
          environment: 'staging',
          description: 'Cards — “PCI” scope; quotes \' " and \\ backslash',
          tags: { app: 'billing', 'cost-center': '4711', empty: '', unicode: 'Zürich ✓' },
          rotationPeriod: 'P90D',
          maxUsesPerVersion: 2 ** 40,
          nextRotationAt: '2026-09-01T00:00:00.000Z',
          primaryVersion: 7,
          exportable: true,
          deletionWindowDays: 7,
          deletionDate: '2026-06-08T00:00:00.000Z',
          createdAt: '2026-01-01T00:00:00.000Z',
          updatedAt: '2026-05-31T23:59:59.999Z',
        });
        const bare = keyRecord({ name: 'bare', tags: {}, exportable: false, maxUsesPerVersion: null });
        await store.insertKey(full);
        await store.insertKey(bare);

        expect(await store.getKey('payments', 'card-data')).toEqual(full);
        expect(await store.getKeyById(full.id)).toEqual(full);
        expect(await store.getKey('payments', 'bare')).toEqual(bare);
        expect(await store.getKeyById(bare.id)).toEqual(bare);
        expect((await store.getKeyById(full.id))?.maxUsesPerVersion).toBe(2 ** 40);
        expect(await store.getKey('payments', 'missing')).toBeNull();
        expect(await store.getKey('other', 'card-data')).toBeNull();
        expect(await store.getKeyById('no-such-id')).toBeNull();
      });

      it('rejects a duplicate name in a namespace but allows it in another', async () => {
        const { store } = await open();
        const original = keyRecord({ name: 'card-data', owner: 'first' });
        await store.insertKey(original);

        const error = await rejection(store.insertKey(keyRecord({ name: 'card-data', owner: 'second', tags: { a: 'b' } })));
        expect(error).toBeInstanceOf(StoreConflictError);
        expect(await store.getKey('payments', 'card-data')).toEqual(original);
        expect(await store.listKeys('payments', { tag: { key: 'a', value: 'b' } }, 10, null)).toEqual([]);

        const elsewhere = keyRecord({ namespace: 'ledger', name: 'card-data' });
        await store.insertKey(elsewhere);
        expect(await store.getKey('ledger', 'card-data')).toEqual(elsewhere);
        expect(await store.getKey('payments', 'card-data')).toEqual(original);
      });

      it('updateKey replaces every field and the tags', async () => {
        const { store } = await open();
        const key = keyRecord({ name: 'card-data', tags: { app: 'billing', tier: 'gold' } });
        const untouched = keyRecord({ name: 'other', tags: { app: 'billing' } });
        await store.insertKey(key);
        await store.insertKey(untouched);

        const updated: KeyRecord = {
          ...key,
          state: 'disabled',
          description: 'now disabled',
          tags: { app: 'ledger' },
          primaryVersion: 2,
          exportable: true,
          maxUsesPerVersion: 1000,
          rotationPeriod: 'P30D',
          updatedAt: '2026-06-02T00:00:00.000Z',
        };
        await store.updateKey(updated);
        expect(await store.getKeyById(key.id)).toEqual(updated);
        expect(await store.getKeyById(untouched.id)).toEqual(untouched);

        expect(names(await store.listKeys('payments', { tag: { key: 'app', value: 'billing' } }, 10, null))).toEqual(['other']);
        expect(await store.listKeys('payments', { tag: { key: 'tier', value: 'gold' } }, 10, null)).toEqual([]);
        expect(names(await store.listKeys('payments', { tag: { key: 'app', value: 'ledger' } }, 10, null))).toEqual(['card-data']);

        await store.updateKey({ ...updated, tags: {} });
        expect((await store.getKeyById(key.id))?.tags).toEqual({});
        expect(await store.listKeys('payments', { tag: { key: 'app', value: 'ledger' } }, 10, null)).toEqual([]);
      });
    });

    describe('listKeys', () => {
      it('applies each filter alone', async () => {
        const { store } = await open();
        const keys = filterFixture();
        for (const key of keys) await store.insertKey(key);
        const filters: KeyFilter[] = [
          {},
          { owner: 'team-a' },
          { owner: 'nobody' },
          { class: 'critical' },
          { environment: 'dev' },
          { state: 'enabled' },
          { state: 'pending_deletion' },
          { algorithm: 'aes-256-gcm' },
          { tag: { key: 'app', value: 'billing' } },
          { tag: { key: 'tier', value: 'gold' } },
          { tag: { key: 'app', value: 'gold' } },
          { tag: { key: 'missing', value: 'billing' } },
        ];
        for (const filter of filters) {
          const expected = keys.filter((k) => matches(k, filter)).map((k) => k.name);
          expect(names(await store.listKeys('payments', filter, 100, null)), JSON.stringify(filter)).toEqual(expected);
        }
        expect(await store.listKeys('payments', { owner: 'team-a' }, 100, null)).toEqual(keys.filter((k) => k.owner === 'team-a'));
      });

      it('combines filters with AND', async () => {
        const { store } = await open();
        const keys = filterFixture();
        for (const key of keys) await store.insertKey(key);
        const filters: KeyFilter[] = [
          { owner: 'team-a', class: 'critical' },
          { class: 'critical', environment: 'prod', algorithm: 'aes-256-gcm' },
          { owner: 'team-b', state: 'enabled', tag: { key: 'tier', value: 'gold' } },
          { environment: 'prod', tag: { key: 'app', value: 'ledger' } },
          { owner: 'team-a', environment: 'dev', state: 'enabled' },
        ];
        for (const filter of filters) {
          const expected = keys.filter((k) => matches(k, filter)).map((k) => k.name);
          expect(names(await store.listKeys('payments', filter, 100, null)), JSON.stringify(filter)).toEqual(expected);
        }
        expect(names(await store.listKeys('payments', { owner: 'team-a', q: 'k06' }, 100, null))).toEqual(['k06']);
        expect(names(await store.listKeys('payments', { owner: 'team-b', q: 'k06' }, 100, null))).toEqual([]);
      });

      it('q searches name, description and owner, ignoring case', async () => {
        const { store } = await open();
        await store.insertKey(keyRecord({ name: 'Card-Data', owner: 'team-x', description: '' }));
        await store.insertKey(keyRecord({ name: 'plain', owner: 'team-x', description: 'Holds CARD numbers' }));
        await store.insertKey(keyRecord({ name: 'third', owner: 'CardOps', description: '' }));
        await store.insertKey(keyRecord({ name: 'unrelated', owner: 'team-x', description: 'nothing here' }));
        const search = async (q: string) => names(await store.listKeys('payments', { q }, 100, null)).sort();

        expect(await search('card')).toEqual(['Card-Data', 'plain', 'third']);
        expect(await search('CARD')).toEqual(['Card-Data', 'plain', 'third']);
        expect(await search('cArD-dAtA')).toEqual(['Card-Data']);
        expect(await search('holds card')).toEqual(['plain']);
        expect(await search('cardops')).toEqual(['third']);
        expect(await search('team-x')).toEqual(['Card-Data', 'plain', 'unrelated']);
        expect(await search('nope')).toEqual([]);
        expect(await search('')).toEqual(['Card-Data', 'plain', 'third', 'unrelated']);
      });

      it('q matches non-ASCII text in its own case', async () => {
        const { store } = await open();
        await store.insertKey(keyRecord({ name: 'medic', description: 'Schlüssel für Ärzte' }));
        await store.insertKey(keyRecord({ name: 'other', description: 'Schlussel fur Arzte' }));
        expect(names(await store.listKeys('payments', { q: 'Ärzte' }, 100, null))).toEqual(['medic']);
        expect(names(await store.listKeys('payments', { q: 'für' }, 100, null))).toEqual(['medic']);
      });

      it('q matches % _ \\ and ! literally', async () => {
        const { store } = await open();
        await store.insertKey(keyRecord({ name: 'a', description: '100% off' }));
        await store.insertKey(keyRecord({ name: 'b', description: '100 percent off' }));
        await store.insertKey(keyRecord({ name: 'c', description: 'snake_case' }));
        await store.insertKey(keyRecord({ name: 'd', description: 'snakeXcase' }));
        await store.insertKey(keyRecord({ name: 'e', description: 'C:\\keys\\prod' }));
        await store.insertKey(keyRecord({ name: 'f', description: 'C:keysprod' }));
        await store.insertKey(keyRecord({ name: 'g', description: 'ready!%' }));
        const search = async (q: string) => names(await store.listKeys('payments', { q }, 100, null));

        expect(await search('100%')).toEqual(['a']);
        expect(await search('e_c')).toEqual(['c']);
        expect(await search('_')).toEqual(['c']);
        expect(await search('\\keys\\')).toEqual(['e']);
        expect(await search('\\')).toEqual(['e']);
        expect(await search('!')).toEqual(['g']);
        expect(await search('y!%')).toEqual(['g']);
        expect(await search('%')).toEqual(['a', 'g']);
      });

      it('lists only the given namespace', async () => {
        const { store } = await open();
        await store.insertKey(keyRecord({ namespace: 'payments', name: 'k1', owner: 'o' }));
        await store.insertKey(keyRecord({ namespace: 'ledger', name: 'k2', owner: 'o' }));
        await store.insertKey(keyRecord({ namespace: 'payments-eu', name: 'k3', owner: 'o' }));
        expect(names(await store.listKeys('payments', {}, 100, null))).toEqual(['k1']);
        expect(names(await store.listKeys('ledger', { owner: 'o' }, 100, null))).toEqual(['k2']);
        expect(names(await store.listKeys('payments', { q: 'k' }, 100, null))).toEqual(['k1']);
        expect(await store.listKeys('nowhere', {}, 100, null)).toEqual([]);
      });

      it('orders by name, returns names strictly after the cursor, and honours the limit', async () => {
        const { store } = await open();
        for (const i of [5, 1, 9, 3, 7]) await store.insertKey(keyRecord({ name: numbered(i) }));

        expect(names(await store.listKeys('payments', {}, 100, null))).toEqual([1, 3, 5, 7, 9].map(numbered));
        expect(names(await store.listKeys('payments', {}, 2, null))).toEqual([1, 3].map(numbered));
        expect(names(await store.listKeys('payments', {}, 2, numbered(3)))).toEqual([5, 7].map(numbered));
        expect(names(await store.listKeys('payments', {}, 100, numbered(4)))).toEqual([5, 7, 9].map(numbered));
        expect(names(await store.listKeys('payments', {}, 100, numbered(9)))).toEqual([]);
        expect(names(await store.listKeys('payments', {}, 1, numbered(0)))).toEqual([numbered(1)]);
      });

      it('pages over 250 keys visiting each exactly once', async () => {
        const { store } = await open();
        const order = Array.from({ length: 250 }, (_, i) => i).sort(() => Math.random() - 0.5);
        await store.transaction(async (tx) => {
          for (const i of order) {
            await tx.insertKey(keyRecord({ name: numbered(i), environment: i % 3 === 0 ? 'dev' : 'prod', tags: { shard: String(i % 2) } }));
          }
        });
        await store.insertKey(keyRecord({ namespace: 'ledger', name: numbered(1000) }));

        const all = names(await listAll(store, 'payments', {}, 37));
        expect(all).toEqual(Array.from({ length: 250 }, (_, i) => numbered(i)));

        const dev = names(await listAll(store, 'payments', { environment: 'dev' }, 10));
        expect(dev).toEqual(Array.from({ length: 84 }, (_, i) => numbered(i * 3)));

        const even = names(await listAll(store, 'payments', { tag: { key: 'shard', value: '0' } }, 25));
        expect(even).toEqual(Array.from({ length: 125 }, (_, i) => numbered(i * 2)));
      });
    });

    describe('versions', () => {
      it('inserts, lists in version order, and updates', async () => {
        const { store } = await open();
        const key = keyRecord();
        const other = keyRecord();
        await store.insertKey(key);
        await store.insertKey(other);
        const v3 = versionRecord(key.id, 3, { state: 'pre_active', activatedAt: null, trigger: 'time', publicKey: 'MCowBQYDK2VwAyEA' });
        const v1 = versionRecord(key.id, 1, { uses: 2 ** 40 });
        const v2 = versionRecord(key.id, 2, { trigger: 'use' });
        for (const v of [v3, v1, v2]) await store.insertVersion(v);
        await store.insertVersion(versionRecord(other.id, 1));

        const listed = await store.getVersions(key.id);
        expect(listed).toEqual([v1, v2, v3]);
        expect(listed[0]!.material).toBeInstanceOf(Uint8Array);
        expect(await store.getVersions('no-such-key')).toEqual([]);

        const deactivated = { ...v1, state: 'deactivated' as const, deactivatedAt: '2026-06-02T00:00:00.000Z', uses: 17 };
        await store.updateVersion(deactivated);
        const destroyed = {
          ...v2,
          state: 'destroyed_compromised' as const,
          compromisedAt: '2026-06-03T00:00:00.000Z',
          destroyedAt: '2026-06-04T00:00:00.000Z',
          material: null,
        };
        await store.updateVersion(destroyed);
        expect(await store.getVersions(key.id)).toEqual([deactivated, destroyed, v3]);
        expect((await store.getVersions(other.id)).map((v) => v.state)).toEqual(['active']);
      });

      it('round-trips null material and exact material bytes', async () => {
        const { store } = await open();
        const key = keyRecord();
        await store.insertKey(key);
        const material = binary(300);
        await store.insertVersion(versionRecord(key.id, 1, { material }));
        await store.insertVersion(
          versionRecord(key.id, 2, { material: null, state: 'destroyed', destroyedAt: '2026-06-01T00:00:00.000Z' }),
        );
        const [v1, v2] = await store.getVersions(key.id);
        expect(bytes(v1!.material)).toEqual(bytes(material));
        expect(v2!.material).toBeNull();
      });

      it('addUses increments one version only, also concurrently', async () => {
        const { store } = await open();
        const key = keyRecord();
        await store.insertKey(key);
        await store.insertVersion(versionRecord(key.id, 1));
        await store.insertVersion(versionRecord(key.id, 2, { uses: 2 ** 40 }));

        await store.addUses(key.id, 2, 5);
        await Promise.all(Array.from({ length: 50 }, () => store.addUses(key.id, 1, 1)));
        const [v1, v2] = await store.getVersions(key.id);
        expect(v1!.uses).toBe(50);
        expect(v2!.uses).toBe(2 ** 40 + 5);

        await store.addUses(key.id, 9, 1); // no such version: nothing to count, nothing created
        expect((await store.getVersions(key.id)).map((v) => v.version)).toEqual([1, 2]);
      });
    });

    describe('principals', () => {
      it('round-trips principals with their JSON arrays', async () => {
        const { store } = await open();
        const admin = principalRecord('alice', {
          roles: ['admin', 'key-admin', 'auditor'],
          environments: ['prod', 'staging'],
          teams: ['payments', 'Ops "core"'],
          disabled: true,
        });
        const bare = principalRecord('svc-billing', { kind: 'service', roles: [], environments: [], teams: [] });
        await store.insertPrincipal(admin);
        await store.insertPrincipal(bare);
        expect(await store.getPrincipal('alice')).toEqual(admin);
        expect(await store.getPrincipal('svc-billing')).toEqual(bare);
        expect(await store.getPrincipal('nobody')).toBeNull();
      });

      it('rejects a duplicate id and keeps the original', async () => {
        const { store } = await open();
        const original = principalRecord('alice', { roles: ['auditor'] });
        await store.insertPrincipal(original);
        const error = await rejection(store.insertPrincipal(principalRecord('alice', { roles: ['admin'] })));
        expect(error).toBeInstanceOf(StoreConflictError);
        expect(await store.getPrincipal('alice')).toEqual(original);
      });

      it('lists principals by id in pages', async () => {
        const { store } = await open();
        const ids = Array.from({ length: 23 }, (_, i) => `p${String(i).padStart(3, '0')}`);
        for (const id of [...ids].reverse()) await store.insertPrincipal(principalRecord(id));

        const seen: string[] = [];
        let after: string | null = null;
        for (;;) {
          const page = await store.listPrincipals(5, after);
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...page.map((p) => p.id));
          if (page.length < 5) break;
          after = page[page.length - 1]!.id;
        }
        expect(seen).toEqual(ids);
        expect(await store.listPrincipals(100, 'p021')).toEqual([principalRecord('p022')]);
      });
    });

    describe('tokens', () => {
      it('finds a token by id and by hash', async () => {
        const { store } = await open();
        await store.insertPrincipal(principalRecord('alice'));
        const token = tokenRecord('alice', { expiresAt: '2027-01-01T00:00:00.000Z' });
        const other = tokenRecord('alice');
        await store.insertToken(token);
        await store.insertToken(other);
        expect(await store.getToken(token.id)).toEqual(token);
        expect(await store.getTokenByHash(token.tokenHash)).toEqual(token);
        expect(await store.getTokenByHash(other.tokenHash)).toEqual(other);
        expect(await store.getToken('missing')).toBeNull();
        expect(await store.getTokenByHash('0'.repeat(64))).toBeNull();
      });

      it('revokes once: a second revoke keeps the first time', async () => {
        const { store } = await open();
        await store.insertPrincipal(principalRecord('alice'));
        const token = tokenRecord('alice');
        const bystander = tokenRecord('alice');
        await store.insertToken(token);
        await store.insertToken(bystander);

        await store.revokeToken(token.id, '2026-06-02T00:00:00.000Z');
        expect((await store.getToken(token.id))?.revokedAt).toBe('2026-06-02T00:00:00.000Z');
        await store.revokeToken(token.id, '2026-06-03T00:00:00.000Z');
        expect(await store.getTokenByHash(token.tokenHash)).toEqual({ ...token, revokedAt: '2026-06-02T00:00:00.000Z' });
        expect(await store.getToken(bystander.id)).toEqual(bystander);
        await store.revokeToken('missing', '2026-06-02T00:00:00.000Z');
      });
    });

    describe('grants', () => {
      it('lists grants of one key in creation order and deletes them once', async () => {
        const { store } = await open();
        const key = keyRecord();
        const other = keyRecord();
        await store.insertKey(key);
        await store.insertKey(other);
        const late = grantRecord(key.id, { createdAt: '2026-06-03T00:00:00.000Z', operations: ['sign'] });
        const early = grantRecord(key.id, { createdAt: '2026-06-01T00:00:00.000Z', principal: 'team-a', createdBy: 'bob' });
        const middle = grantRecord(key.id, { createdAt: '2026-06-02T00:00:00.000Z', operations: [] });
        const foreign = grantRecord(other.id);
        for (const g of [late, early, middle, foreign]) await store.insertGrant(g);

        expect(await store.listGrants(key.id)).toEqual([early, middle, late]);
        expect(await store.listGrants(other.id)).toEqual([foreign]);
        expect(await store.listGrants('no-such-key')).toEqual([]);

        expect(await store.deleteGrant(other.id, middle.id)).toBe(false);
        expect(await store.deleteGrant(key.id, middle.id)).toBe(true);
        expect(await store.deleteGrant(key.id, middle.id)).toBe(false);
        expect(await store.listGrants(key.id)).toEqual([early, late]);
        expect(await store.listGrants(other.id)).toEqual([foreign]);
      });
    });

    describe('audit', () => {
      it('appends a batch in order with increasing sequence numbers', async () => {
        const { store } = await open();
        const first = Array.from({ length: 5 }, (_, i) => auditRecord({ action: `a${i}` }));
        const second = Array.from({ length: 3 }, (_, i) => auditRecord({ action: `b${i}` }));
        await store.appendAudit(first);
        await store.appendAudit([]);
        await store.appendAudit(second);

        const stored = await store.listAudit(0, 100);
        expect(stored.map((r) => r.action)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2']);
        for (let i = 1; i < stored.length; i++) expect(stored[i]!.seq).toBeGreaterThan(stored[i - 1]!.seq);
        expect(stored[0]!.seq).toBeGreaterThan(0);
        expect(typeof stored[0]!.seq).toBe('number');
        expect(stored.map(({ seq: _, ...rest }) => rest)).toEqual([...first, ...second]);
      });

      it('pages with afterSeq and limit', async () => {
        const { store } = await open();
        await store.appendAudit(Array.from({ length: 12 }, (_, i) => auditRecord({ action: `a${i}` })));
        const seen: string[] = [];
        let after = 0;
        for (;;) {
          const page = await store.listAudit(after, 5);
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...page.map((r) => r.action));
          if (page.length === 0) break;
          after = page[page.length - 1]!.seq;
        }
        expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `a${i}`));
        const all = await store.listAudit(0, 100);
        expect(await store.listAudit(all[9]!.seq, 100)).toEqual(all.slice(10));
        expect(await store.listAudit(all[11]!.seq, 100)).toEqual([]);
      });

      it('round-trips details and nullable fields', async () => {
        const { store } = await open();
        const full = auditRecord({
          outcome: 'denied',
          errorCode: 'forbidden',
          details: {
            reason: 'no grant — “scope”',
            count: 3,
            ratio: 0.5,
            big: 2 ** 40,
            negative: -1,
            allowed: false,
            note: null,
            empty: '',
          },
        });
        const bare = auditRecord({ actor: null, namespace: null, key: null, keyVersion: null, outcome: 'error', errorCode: 'internal' });
        await store.appendAudit([full, bare]);
        const [a, b] = await store.listAudit(0, 10);
        expect(a).toEqual({ ...full, seq: a!.seq });
        expect(b).toEqual({ ...bare, seq: b!.seq });
      });
    });

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
