import { GENESIS_HASH } from '@keyward/crypto';
import { describe, expect, it } from 'vitest';
import type { ChainedAuditRecord } from '../../src/store/records.js';
import type { StoreKind } from '../support/stores.js';
import { auditRecord, keyRecord, rejection, useStores } from './store-fixtures.js';

/** Records `from`..`to` of `chain`, linked by placeholder hashes (the store only stores chains; audit/ computes them). */
function links(chain: string, from: number, to: number, overrides: Partial<ChainedAuditRecord> = {}): ChainedAuditRecord[] {
  const out: ChainedAuditRecord[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push(auditRecord({ chain, chainSeq: seq, prevHash: `${chain}-${seq - 1}`, hash: `${chain}-${seq}`, ...overrides }));
  }
  return out;
}

/** The audit chain part of the Store contract: heads, chained appends, chain reads, checkpoints, filters, transaction hooks. */
export function describeAuditChainConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: audit chains`, () => {
    const open = useStores(kind);

    it('a new chain has head 0 and the genesis hash; appends move the head inside the transaction', async () => {
      const { store } = await open();
      await store.transaction(async (tx) => {
        expect(await tx.lockAuditHead('node-a')).toEqual({ chain: 'node-a', seq: 0, hash: GENESIS_HASH });
        await tx.appendAudit(links('node-a', 1, 3));
        expect(await tx.lockAuditHead('node-a')).toEqual({ chain: 'node-a', seq: 3, hash: 'node-a-3' });
      });
      await store.transaction(async (tx) => {
        await tx.lockAuditHead('node-b');
        await tx.appendAudit(links('node-b', 1, 1));
      });
      expect(await store.auditHeads()).toEqual([
        { chain: 'node-a', seq: 3, hash: 'node-a-3' },
        { chain: 'node-b', seq: 1, hash: 'node-b-1' },
      ]);
      expect(await store.auditChainNames()).toEqual(['node-a', 'node-b']);
      expect((await store.listAuditChain('node-a', 1, 10)).map((r) => [r.chainSeq, r.prevHash, r.hash])).toEqual([
        [2, 'node-a-1', 'node-a-2'],
        [3, 'node-a-2', 'node-a-3'],
      ]);
      expect(await store.listAuditChain('node-a', 0, 2)).toHaveLength(2);
      expect(await store.listAuditChain('node-c', 0, 2)).toEqual([]);
    });

    it("one append of 5,000 records (beyond both dialects' limit of bound parameters per statement) stores each, in order and intact", async () => {
      const { store } = await open();
      // 5,000 × 15 parameters: over SQLite's 32,766 and PostgreSQL's 65,535 for one statement.
      const records = links('node-a', 1, 5000).map(
        (r, i): ChainedAuditRecord => ({
          ...r,
          actor: i % 7 === 0 ? null : `svc-${i}`,
          keyVersion: i % 5 === 0 ? null : i,
          outcome: i % 3 === 0 ? 'denied' : 'success',
          errorCode: i % 3 === 0 ? 'forbidden' : null,
          details: { item: i, note: i % 2 === 0 ? 'even' : 'odd \u2028 "quoted"' },
        }),
      );
      await store.transaction(async (tx) => {
        await tx.lockAuditHead('node-a');
        await tx.appendAudit(records);
      });
      expect(await store.auditHeads()).toEqual([{ chain: 'node-a', seq: 5000, hash: 'node-a-5000' }]);
      const stored = [];
      for (let after = 0; after < 5000; after += 1000) stored.push(...(await store.listAuditChain('node-a', after, 1000)));
      expect(stored).toHaveLength(5000);
      expect(stored.map(({ seq: _seq, ...rest }) => rest)).toEqual(records);
      expect(stored.map((r) => r.seq)).toEqual([...stored.map((r) => r.seq)].sort((a, b) => a - b));
    });

    it('appends of 1, 63, 64, 65 and 100 records (one exact statement up to 64, then 64 and the rest) store each, in order', async () => {
      const { store } = await open();
      let next = 1;
      for (const count of [1, 63, 64, 65, 100]) {
        const records = links('node-a', next, next + count - 1);
        await store.transaction(async (tx) => {
          await tx.lockAuditHead('node-a');
          await tx.appendAudit(records);
        });
        next += count;
      }
      const stored = await store.listAuditChain('node-a', 0, 1000);
      expect(stored.map((r) => r.chainSeq)).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
      expect(await store.auditHeads()).toEqual([{ chain: 'node-a', seq: 293, hash: 'node-a-293' }]);
    });

    it('a rolled-back append leaves neither records nor a moved head, and reports to the transaction hooks', async () => {
      const { store } = await open();
      const seen: boolean[] = [];
      await store.transaction(async (tx) => {
        await tx.lockAuditHead('node-a');
        await tx.appendAudit(links('node-a', 1, 2));
        tx.afterTransaction((committed) => seen.push(committed));
      });
      const boom = new Error('boom');
      const error = await rejection(
        store.transaction(async (tx) => {
          await tx.lockAuditHead('node-a');
          await tx.appendAudit(links('node-a', 3, 4));
          tx.afterTransaction((committed) => seen.push(committed));
          throw boom;
        }),
      );
      expect(error).toBe(boom);
      expect(seen).toEqual([true, false]);
      expect(await store.auditHeads()).toEqual([{ chain: 'node-a', seq: 2, hash: 'node-a-2' }]);
      expect(await store.listAuditChain('node-a', 0, 10)).toHaveLength(2);
    });

    it('refuses a second record at a position of a chain', async () => {
      const { store } = await open();
      await store.transaction(async (tx) => {
        await tx.lockAuditHead('node-a');
        await tx.appendAudit(links('node-a', 1, 1));
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.lockAuditHead('node-a');
          await tx.appendAudit(links('node-a', 1, 1));
        }),
      ).rejects.toThrow();
    });

    if (kind === 'postgres') {
      it('appends to one chain take turns across connections; another chain does not wait', async () => {
        const { store, db } = await open();
        const other = db.open();
        try {
          let release: () => void = () => {};
          const held = new Promise<void>((resolve) => {
            release = resolve;
          });
          const order: string[] = [];
          const first = store.transaction(async (tx) => {
            await tx.lockAuditHead('node-a');
            order.push('first locked');
            await held;
            await tx.appendAudit(links('node-a', 1, 1));
            order.push('first done');
          });
          await new Promise((r) => setTimeout(r, 50));
          const independent = other.transaction(async (tx) => {
            await tx.lockAuditHead('node-b');
            order.push('node-b locked');
          });
          await independent;
          const second = other.transaction(async (tx) => {
            const head = await tx.lockAuditHead('node-a');
            order.push(`second sees ${head.seq}`);
            await tx.appendAudit(links('node-a', head.seq + 1, head.seq + 1));
          });
          await new Promise((r) => setTimeout(r, 50));
          release();
          await Promise.all([first, second]);
          expect(order).toEqual(['first locked', 'node-b locked', 'first done', 'second sees 1']);
          expect(await store.auditHeads()).toContainEqual({ chain: 'node-a', seq: 2, hash: 'node-a-2' });
        } finally {
          await other.close();
        }
      });
    }

    it('lockKey and lockKeyById read the key (null when there is none); on PostgreSQL a second locker waits for the first', async () => {
      const { store, db } = await open();
      const key = keyRecord({ name: 'locked' });
      await store.insertKey(key);
      await store.transaction(async (tx) => {
        expect(await tx.lockKey(key.namespace, key.name)).toEqual(key);
        expect(await tx.lockKeyById(key.id)).toEqual(key);
        expect(await tx.lockKey(key.namespace, 'missing')).toBeNull();
      });
      if (kind !== 'postgres') return;
      const other = db.open();
      try {
        let release: () => void = () => {};
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        const order: string[] = [];
        const first = store.transaction(async (tx) => {
          await tx.lockKey(key.namespace, key.name);
          order.push('first locked');
          await held;
          await tx.updateKey({ ...key, description: 'first' });
          order.push('first done');
        });
        await new Promise((r) => setTimeout(r, 50));
        const second = other.transaction(async (tx) => {
          const seen = await tx.lockKeyById(key.id);
          order.push(`second sees ${seen?.description}`);
        });
        await new Promise((r) => setTimeout(r, 50));
        release();
        await Promise.all([first, second]);
        expect(order).toEqual(['first locked', 'first done', 'second sees first']);
      } finally {
        await other.close();
      }
    });

    it('filters records by key, version, principal, action, outcome and time, paging by insertion order', async () => {
      const { store } = await open();
      const at = (m: number) => new Date(Date.UTC(2026, 5, 1, 0, m)).toISOString();
      const records = [
        auditRecord({ chain: 'q', chainSeq: 1, time: at(1), key: 'a', keyVersion: 1, actor: 'svc', action: 'crypto.encrypt' }),
        auditRecord({ chain: 'q', chainSeq: 2, time: at(2), key: 'a', keyVersion: 2, actor: 'svc', action: 'crypto.encrypt' }),
        auditRecord({ chain: 'q', chainSeq: 3, time: at(3), key: 'b', keyVersion: 1, actor: 'ops', action: 'key.rotate' }),
        auditRecord({
          chain: 'q',
          chainSeq: 4,
          time: at(4),
          key: 'a',
          keyVersion: 1,
          actor: 'svc',
          action: 'crypto.decrypt',
          outcome: 'error',
        }),
      ];
      await store.appendAudit(records);
      const seqs = async (q: Parameters<typeof store.queryAudit>[0], after = 0, limit = 10) =>
        (await store.queryAudit(q, after, limit)).map((r) => r.chainSeq);
      expect(await seqs({ key: 'a' })).toEqual([1, 2, 4]);
      expect(await seqs({ key: 'a', keyVersion: 1 })).toEqual([1, 4]);
      expect(await seqs({ actor: 'ops' })).toEqual([3]);
      expect(await seqs({ action: 'crypto.encrypt' })).toEqual([1, 2]);
      expect(await seqs({ outcome: 'error' })).toEqual([4]);
      expect(await seqs({ from: at(2), to: at(4) })).toEqual([2, 3]);
      expect(await seqs({ namespace: 'payments', key: 'a' }, 0, 2)).toEqual([1, 2]);
      const firstPage = await store.queryAudit({ key: 'a' }, 0, 2);
      expect(await seqs({ key: 'a' }, (firstPage.at(-1) as { seq: number }).seq)).toEqual([4]);
    });

    it('stores checkpoints in order and returns them as written', async () => {
      const { store } = await open();
      const checkpoint = {
        time: '2026-06-01T00:00:00.000Z',
        node: 'node-a',
        heads: [{ chain: 'node-a', seq: 3, hash: 'h3' }],
        keyId: 'sha256:00',
        signature: 'c2ln',
      };
      const first = await store.insertAuditCheckpoint(checkpoint);
      const second = await store.insertAuditCheckpoint({ ...checkpoint, time: '2026-06-01T00:01:00.000Z' });
      expect(second).toBeGreaterThan(first);
      expect(await store.listAuditCheckpoints(0, 10)).toEqual([
        { id: first, ...checkpoint },
        { id: second, ...checkpoint, time: '2026-06-01T00:01:00.000Z' },
      ]);
      expect(await store.listAuditCheckpoints(first, 10)).toHaveLength(1);
    });

    it('claims a meta value once: the first writer wins and everyone reads it', async () => {
      const { store, db } = await open();
      const other = db.open();
      try {
        const [a, b] = await Promise.all([store.claimMeta('audit.test', 'from-a'), other.claimMeta('audit.test', 'from-b')]);
        expect(a).toBe(b);
        expect(['from-a', 'from-b']).toContain(a);
        expect(await store.claimMeta('audit.test', 'late')).toBe(a);
      } finally {
        await other.close();
      }
    });
  });
}
