import { describe, expect, it } from 'vitest';
import type { KeyFilter, KeyRecord } from '../../src/store/records.js';
import { type Store, StoreConflictError } from '../../src/store/store.js';
import { keyRecord, type OpenStores, rejection } from './store-fixtures.js';

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

/** The key half of the Store contract: round trips, conflicts, updates and every listKeys filter. */
export function describeKeyConformance(open: OpenStores): void {
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
}
