import { describe, expect, it } from 'vitest';
import type { ChainedAuditRecord } from '../../src/store/records.js';
import type { StoreKind } from '../support/stores.js';
import { auditRecord, useStores } from './store-fixtures.js';

/** A successful cryptographic operation on `payments/card-data` unless overridden. */
const op = (
  actor: string,
  action: string,
  keyVersion: number | null,
  time: string,
  overrides: Partial<ChainedAuditRecord> = {},
): ChainedAuditRecord =>
  auditRecord({ actor, action: `crypto.${action}`, keyVersion, time, namespace: 'payments', key: 'card-data', ...overrides });

const at = (minute: number): string => new Date(Date.UTC(2026, 5, 1, 0, minute)).toISOString();

/**
 * `Store.usage`: per-version, per-principal, per-operation counts of
 * successful cryptographic operations, from the audit records.
 */
export function describeUsageConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: usage`, () => {
    const open = useStores(kind);

    it('counts successful cryptographic operations by version, principal and operation, in order', async () => {
      const { store } = await open();
      await store.appendAudit([
        op('svc-a', 'decrypt', 1, at(1)),
        op('svc-a', 'decrypt', 1, at(5)),
        op('svc-a', 'decrypt', 1, at(3)),
        op('svc-a', 'encrypt', 2, at(2)),
        op('svc-b', 'verify', 1, at(4)),
        op('svc-a', 'encrypt', 2, at(6)),
        op('svc-b', 'decrypt', 2, at(7)),
        // Not counted: refused or failed, not cryptographic, no version, no actor, another key or namespace.
        op('svc-a', 'decrypt', 1, at(8), { outcome: 'denied', errorCode: 'forbidden' }),
        op('svc-a', 'decrypt', 1, at(8), { outcome: 'error', errorCode: 'invalid_ciphertext' }),
        op('svc-a', 'verify', null, at(8)),
        op('svc-a', 'decrypt', 1, at(8), { actor: null }),
        auditRecord({ actor: 'svc-a', action: 'key.rotate', namespace: 'payments', key: 'card-data', keyVersion: 2, time: at(8) }),
        auditRecord({ actor: 'svc-a', action: 'cryptoX.decrypt', namespace: 'payments', key: 'card-data', keyVersion: 1, time: at(8) }),
        op('svc-a', 'decrypt', 1, at(8), { key: 'card-data-2' }),
        op('svc-a', 'decrypt', 1, at(8), { namespace: 'ledger' }),
      ]);

      expect(await store.usage('payments', 'card-data', null)).toEqual([
        { version: 2, principal: 'svc-a', operation: 'encrypt', count: 2, firstAt: at(2), lastAt: at(6) },
        { version: 2, principal: 'svc-b', operation: 'decrypt', count: 1, firstAt: at(7), lastAt: at(7) },
        { version: 1, principal: 'svc-a', operation: 'decrypt', count: 3, firstAt: at(1), lastAt: at(5) },
        { version: 1, principal: 'svc-b', operation: 'verify', count: 1, firstAt: at(4), lastAt: at(4) },
      ]);
      expect(await store.usage('payments', 'card-data-2', null)).toEqual([
        { version: 1, principal: 'svc-a', operation: 'decrypt', count: 1, firstAt: at(8), lastAt: at(8) },
      ]);
      expect(await store.usage('payments', 'nothing-here', null)).toEqual([]);
    });

    it('counts only records at or after `since`', async () => {
      const { store } = await open();
      await store.appendAudit([
        op('svc-a', 'sign', 1, at(1)),
        op('svc-a', 'sign', 1, at(2)),
        op('svc-a', 'sign', 1, at(3)),
        op('svc-b', 'sign', 1, at(1)),
      ]);
      expect(await store.usage('payments', 'card-data', at(2))).toEqual([
        { version: 1, principal: 'svc-a', operation: 'sign', count: 2, firstAt: at(2), lastAt: at(3) },
      ]);
      expect(await store.usage('payments', 'card-data', at(4))).toEqual([]);
      expect((await store.usage('payments', 'card-data', at(0))).map((r) => r.count)).toEqual([3, 1]);
    });

    it('returns counts as numbers for many records, and works inside a transaction', async () => {
      const { store } = await open();
      const records = Array.from({ length: 1500 }, (_, i) => op('svc-a', 'mac', 1, at(i % 60)));
      await store.appendAudit(records);
      const [row] = await store.usage('payments', 'card-data', null);
      expect(row).toEqual({ version: 1, principal: 'svc-a', operation: 'mac', count: 1500, firstAt: at(0), lastAt: at(59) });
      expect(typeof row?.count).toBe('number');
      const inside = await store.transaction(async (tx) => {
        await tx.appendAudit([op('svc-a', 'mac', 1, at(59))]);
        return tx.usage('payments', 'card-data', at(59));
      });
      expect(inside.map((r) => r.count)).toEqual([26]);
    });

    it('lastUses: the last successful cryptographic operation of every key of a namespace, in one answer', async () => {
      const { store } = await open();
      await store.appendAudit([
        op('svc-a', 'decrypt', 1, at(1)),
        op('svc-b', 'encrypt', 2, at(9)),
        op('svc-a', 'decrypt', 1, at(4)),
        op('svc-a', 'sign', 1, at(3), { key: 'billing' }),
        op('svc-a', 'mac', 1, at(2), { key: 'zeta' }),
        // Not uses: refused or failed, not cryptographic, no version, no actor, another namespace.
        op('svc-a', 'decrypt', 1, at(20), { outcome: 'denied', errorCode: 'forbidden' }),
        op('svc-a', 'decrypt', 1, at(20), { key: 'billing', outcome: 'error', errorCode: 'invalid_ciphertext' }),
        op('svc-a', 'verify', null, at(20), { key: 'zeta' }),
        op('svc-a', 'decrypt', 1, at(20), { key: 'zeta', actor: null }),
        auditRecord({ actor: 'svc-a', action: 'key.rotate', namespace: 'payments', key: 'billing', keyVersion: 2, time: at(20) }),
        auditRecord({ actor: 'svc-a', action: 'key.read', namespace: 'payments', key: 'unused', keyVersion: null, time: at(20) }),
        op('svc-a', 'decrypt', 1, at(30), { namespace: 'ledger' }),
      ]);
      expect(await store.lastUses('payments')).toEqual([
        { key: 'billing', lastAt: at(3) },
        { key: 'card-data', lastAt: at(9) },
        { key: 'zeta', lastAt: at(2) },
      ]);
      expect(await store.lastUses('ledger')).toEqual([{ key: 'card-data', lastAt: at(30) }]);
      expect(await store.lastUses('nowhere')).toEqual([]);
      expect(await store.transaction((tx) => tx.lastUses('ledger'))).toEqual([{ key: 'card-data', lastAt: at(30) }]);
    });
  });
}
