import { describe, expect, it } from 'vitest';
import { StoreConflictError } from '../../src/store/store.js';
import type { TotpRecord } from '../../src/store/totp-records.js';
import type { StoreKind } from '../support/stores.js';
import { binary, bytes, principalRecord, rejection, useStores } from './store-fixtures.js';

function totpRecord(principalId: string, overrides: Partial<TotpRecord> = {}): TotpRecord {
  return { principalId, secret: binary(56), createdAt: '2026-06-01T00:00:00.000Z', confirmedAt: null, lastStep: null, ...overrides };
}

/** TOTP authenticators of principals, part of the Store contract (src/store/totp-records.ts). */
export function describeTotpConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: TOTP`, () => {
    const open = useStores(kind);

    it('round-trips an authenticator, wrapped secret bytes exactly; one per principal; delete says whether there was one', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      expect(await store.getTotp('alice')).toBeNull();
      const record = totpRecord('alice');
      await store.insertTotp(record);
      const got = await store.getTotp('alice');
      expect(got).toEqual(record);
      expect(bytes(got!.secret)).toEqual(bytes(record.secret));
      expect(await rejection(store.insertTotp(totpRecord('alice')))).toBeInstanceOf(StoreConflictError);
      expect(await store.deleteTotp('alice')).toBe(true);
      expect(await store.deleteTotp('alice')).toBe(false);
      expect(await store.getTotp('alice')).toBeNull();
    });

    it('confirms a pending authenticator once, with its first step', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      expect(await store.confirmTotp('alice', '2026-06-01T00:01:00.000Z', 100)).toBe(false);
      await store.insertTotp(totpRecord('alice'));
      expect(await store.confirmTotp('alice', '2026-06-01T00:01:00.000Z', 100)).toBe(true);
      expect(await store.confirmTotp('alice', '2026-06-01T00:02:00.000Z', 104)).toBe(false);
      expect(await store.getTotp('alice')).toMatchObject({ confirmedAt: '2026-06-01T00:01:00.000Z', lastStep: 100 });
    });

    it('accepts each time step once and never an older one; only for a confirmed authenticator', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      await store.insertPrincipal(principalRecord('bob'));
      await store.insertTotp(totpRecord('bob'));
      expect(await store.useTotpStep('bob', 5)).toBe(false); // pending
      expect(await store.useTotpStep('nobody', 5)).toBe(false);
      // About the step of a real clock today (seconds since 1970 / 30).
      const step = 59_000_000;
      await store.insertTotp(totpRecord('alice', { confirmedAt: '2026-06-01T00:00:00.000Z', lastStep: null }));
      expect(await store.useTotpStep('alice', step)).toBe(true);
      expect(await store.useTotpStep('alice', step)).toBe(false);
      expect(await store.useTotpStep('alice', step - 1)).toBe(false);
      expect(await store.useTotpStep('alice', step + 1)).toBe(true);
      expect((await store.getTotp('alice'))?.lastStep).toBe(step + 1);
    });

    it('racing uses of one step: exactly one wins', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      await store.insertTotp(totpRecord('alice', { confirmedAt: '2026-06-01T00:00:00.000Z', lastStep: 1 }));
      const results = await Promise.all(Array.from({ length: 8 }, () => store.useTotpStep('alice', 2)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('writes inside a transaction roll back with it', async () => {
      const { store } = await open();
      await store.insertPrincipal(principalRecord('alice'));
      await expect(
        store.transaction(async (tx) => {
          await tx.insertTotp(totpRecord('alice'));
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.getTotp('alice')).toBeNull();
    });
  });
}
