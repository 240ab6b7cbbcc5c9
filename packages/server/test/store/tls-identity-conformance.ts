import { describe, expect, it } from 'vitest';
import { StoreConflictError } from '../../src/store/store.js';
import type { StoreKind } from '../support/stores.js';
import { principalRecord, rejection, useStores } from './store-fixtures.js';

/** TLS client identities of principals, part of the Store contract (src/store/tls-identity-records.ts). */
export function describeTlsIdentityConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: TLS identities`, () => {
    const open = useStores(kind);

    it('sets, replaces and clears a principal’s identities; lists them sorted per principal', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('svc-a'));
      await store.insertPrincipal(principalRecord('svc-b'));
      expect(await store.listTlsIdentities(['svc-a'])).toEqual(new Map());
      await store.setTlsIdentities('svc-a', ['uri:spiffe://example/svc-a', 'dns:a.internal', 'dns:a.internal']);
      await store.setTlsIdentities('svc-b', ['dns:b.internal']);
      expect(await store.listTlsIdentities(['svc-a', 'svc-b', 'nobody'])).toEqual(
        new Map([
          ['svc-a', ['dns:a.internal', 'uri:spiffe://example/svc-a']],
          ['svc-b', ['dns:b.internal']],
        ]),
      );
      expect(await store.listTlsIdentities([])).toEqual(new Map());
      await store.setTlsIdentities('svc-a', ['dns:a2.internal']);
      expect((await store.listTlsIdentities(['svc-a'])).get('svc-a')).toEqual(['dns:a2.internal']);
      await store.setTlsIdentities('svc-a', []);
      expect((await store.listTlsIdentities(['svc-a'])).has('svc-a')).toBe(false);
    });

    it('finds the holders of identities; an identity belongs to one principal (conflict names it, changes nothing)', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('svc-a'));
      await store.insertPrincipal(principalRecord('svc-b'));
      await store.setTlsIdentities('svc-a', ['dns:a.internal', 'uri:spiffe://example/svc-a']);
      expect(await store.findTlsIdentities(['uri:spiffe://example/svc-a', 'dns:other', 'dns:a.internal'])).toEqual([
        { identity: 'dns:a.internal', principalId: 'svc-a' },
        { identity: 'uri:spiffe://example/svc-a', principalId: 'svc-a' },
      ]);
      expect(await store.findTlsIdentities([])).toEqual([]);
      await store.setTlsIdentities('svc-b', ['dns:b.internal']);
      const error = await rejection(store.setTlsIdentities('svc-b', ['dns:b2.internal', 'dns:a.internal']));
      expect(error).toBeInstanceOf(StoreConflictError);
      expect((error as Error).message).toContain("'dns:a.internal' belongs to principal 'svc-a'");
      expect((await store.listTlsIdentities(['svc-b'])).get('svc-b')).toEqual(['dns:b.internal']);
      // Setting a principal's own identities again is no conflict.
      await store.setTlsIdentities('svc-a', ['dns:a.internal']);
      expect(await store.findTlsIdentities(['uri:spiffe://example/svc-a'])).toEqual([]);
    });

    it('writes inside a transaction roll back with it', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('svc-a'));
      await store.setTlsIdentities('svc-a', ['dns:a.internal']);
      await expect(
        store.transaction(async (tx) => {
          await tx.setTlsIdentities('svc-a', ['dns:new.internal']);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect((await store.listTlsIdentities(['svc-a'])).get('svc-a')).toEqual(['dns:a.internal']);
    });
  });
}
