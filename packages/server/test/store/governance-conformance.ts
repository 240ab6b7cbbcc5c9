import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ApprovalRecord } from '../../src/store/records.js';
import type { StoreKind } from '../support/stores.js';
import { grantRecord, keyRecord, principalRecord, tokenRecord, useStores } from './store-fixtures.js';

function approvalRecord(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: randomUUID(),
    state: 'pending',
    rule: 'destroyVersion',
    namespace: 'default',
    key: 'payments-db',
    keyClass: 'critical',
    environment: 'prod',
    operation: { type: 'destroyVersion', version: 1 },
    requester: 'ops',
    requesterIdentity: { kind: 'user', roles: ['key-admin'], environments: ['prod'], teams: [], via: 'token' },
    reason: null,
    required: 2,
    approvals: [],
    denial: null,
    createdAt: '2026-06-01T00:00:00.000Z',
    expiresAt: '2026-06-02T00:00:00.000Z',
    executedAt: null,
    error: null,
    revision: 1,
    ...overrides,
  };
}

/** Offboarding and quorum approvals: the same answers from every store. */
export function describeGovernanceConformance(kind: StoreKind): void {
  describe(`governance store operations (${kind})`, () => {
    const open = useStores(kind);

    it('offboarding: principal status, every token revoked once, grants of a principal found and removed, keys by owner', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      await store.insertPrincipal(principalRecord('bob'));
      const live = [tokenRecord('alice'), tokenRecord('alice')];
      const revoked = tokenRecord('alice', { revokedAt: '2026-05-01T00:00:00.000Z' });
      const other = tokenRecord('bob');
      for (const t of [...live, revoked, other]) await store.insertToken(t);
      const at = '2026-06-03T00:00:00.000Z';
      expect(await store.updatePrincipalStatus('alice', { disabled: true, offboardedAt: at })).toBe(true);
      expect(await store.updatePrincipalStatus('nobody', { disabled: true, offboardedAt: at })).toBe(false);
      expect(await store.getPrincipal('alice')).toEqual(principalRecord('alice', { disabled: true, offboardedAt: at }));

      expect((await store.revokePrincipalTokens('alice', at)).sort()).toEqual(live.map((t) => t.id).sort());
      for (const t of live) expect((await store.getToken(t.id))?.revokedAt).toBe(at);
      expect((await store.getToken(revoked.id))?.revokedAt).toBe('2026-05-01T00:00:00.000Z');
      expect((await store.getToken(other.id))?.revokedAt).toBeNull();
      expect(await store.revokePrincipalTokens('alice', at)).toEqual([]);

      const k1 = keyRecord({ name: 'k1', owner: 'alice' });
      const k2 = keyRecord({ name: 'k2', owner: 'bob' });
      const k3 = keyRecord({ name: 'k3', owner: 'alice', namespace: 'other' });
      for (const k of [k1, k2, k3]) await store.insertKey(k);
      expect((await store.listKeysOwnedBy('alice')).map((k) => [k.namespace, k.name])).toEqual([
        ['other', 'k3'],
        ['payments', 'k1'],
      ]);
      await store.insertGrant(grantRecord(k2.id, { principal: 'alice' }));
      await store.insertGrant(grantRecord(k2.id, { principal: 'alice', operations: ['decrypt'] }));
      await store.insertGrant(grantRecord(k1.id, { principal: 'bob' }));
      expect(await store.keysGrantedTo('alice')).toEqual([k2.id]);
      expect(await store.deleteGrantsOf('alice')).toBe(2);
      expect(await store.keysGrantedTo('alice')).toEqual([]);
      expect((await store.listGrants(k1.id)).map((g) => g.principal)).toEqual(['bob']);
    });

    it('approvals: stored whole, updated only from the revision read, listed newest first with filters and a cursor', async () => {
      const { store } = await open();
      const a = approvalRecord({ createdAt: '2026-06-01T00:00:00.000Z' });
      const b = approvalRecord({ createdAt: '2026-06-01T01:00:00.000Z', key: 'other', requester: 'dev' });
      const c = approvalRecord({ createdAt: '2026-06-01T01:00:00.000Z', state: 'denied' });
      for (const r of [a, b, c]) await store.insertApproval(r);
      expect(await store.getApproval(a.id)).toEqual(a);
      expect(await store.getApproval(randomUUID())).toBeNull();

      const voted = { ...a, approvals: [{ principal: 'x', at: '2026-06-01T02:00:00.000Z', comment: null }], revision: 2 };
      expect(await store.updateApproval(voted)).toBe(true);
      // A second writer that read revision 1 loses.
      expect(await store.updateApproval({ ...a, state: 'denied', revision: 2 })).toBe(false);
      expect(await store.getApproval(a.id)).toEqual(voted);

      const newest = [b, c].sort((x, y) => (x.id < y.id ? 1 : -1));
      const all = await store.listApprovals({}, 10, null);
      expect(all.map((r) => r.id)).toEqual([...newest.map((r) => r.id), a.id]);
      expect((await store.listApprovals({ state: 'pending' }, 10, null)).map((r) => r.id)).toEqual([b.id, a.id]);
      expect((await store.listApprovals({ key: 'other' }, 10, null)).map((r) => r.id)).toEqual([b.id]);
      expect((await store.listApprovals({ requester: 'ops' }, 10, null)).map((r) => r.id).sort()).toEqual([a.id, c.id].sort());
      const first = await store.listApprovals({}, 1, null);
      const rest = await store.listApprovals({}, 10, { createdAt: first[0]!.createdAt, id: first[0]!.id });
      expect([...first, ...rest].map((r) => r.id)).toEqual(all.map((r) => r.id));
    });
  });
}
