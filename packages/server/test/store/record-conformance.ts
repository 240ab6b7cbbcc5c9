import { describe, expect, it } from 'vitest';
import { StoreConflictError } from '../../src/store/store.js';
import {
  auditRecord,
  binary,
  bytes,
  grantRecord,
  keyRecord,
  type OpenStores,
  principalRecord,
  rejection,
  tokenRecord,
  versionRecord,
} from './store-fixtures.js';

/** Versions, principals, tokens, grants and audit records of the Store contract. */
export function describeRecordConformance(open: OpenStores): void {
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
      await store.insertVersion(versionRecord(key.id, 2, { material: null, state: 'destroyed', destroyedAt: '2026-06-01T00:00:00.000Z' }));
      const [v1, v2] = await store.getVersions(key.id);
      expect(bytes(v1!.material)).toEqual(bytes(material));
      expect(v2!.material).toBeNull();
    });

    it('appendEvents stores 6,000 events of one transaction in order (more than one statement may bind)', async () => {
      const { store } = await open();
      const events = Array.from({ length: 6000 }, (_, i) => ({
        type: 'key.rotated' as const,
        time: '2026-06-01T00:00:00.000Z',
        namespace: 'payments',
        key: `key-${i}`,
        keyId: null,
        version: i + 1,
        data: { trigger: 'event', n: i, last: i === 5999 },
      }));
      await store.transaction((tx) => tx.appendEvents(events));
      const stored = [];
      for (let after = 0; ; ) {
        const page = await store.listEvents(after, 2500);
        if (page.length === 0) break;
        stored.push(...page);
        after = page.at(-1)?.id ?? after;
      }
      expect(stored.map(({ id: _id, ...event }) => event)).toEqual(events);
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
}
