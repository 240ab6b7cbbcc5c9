import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import { b64, Harness } from '../support/harness.js';

/** Counts the store's database calls: the real store, observed, not replaced. */
function counting(store: Store, calls: string[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        // Only calls that go to the database (they return promises) count.
        if (result instanceof Promise) calls.push(String(prop));
        return result;
      };
    },
  });
}

const calls: string[] = [];
let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ wrapStore: (s) => counting(s, calls) });
});
afterAll(async () => h.close());

describe('stored material is bound to its row', () => {
  it('material swapped between two rows fails to unwrap instead of yielding the wrong key', async () => {
    const a = await h.createKey('swap-a');
    const b = await h.createKey('swap-b');
    const ctA = (await h.call('POST', '/v1/keys/swap-a/encrypt', { plaintext: b64('belongs to a') })).body.ciphertext;
    const ctB = (await h.call('POST', '/v1/keys/swap-b/encrypt', { plaintext: b64('belongs to b') })).body.ciphertext;
    const rowA = (await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ?', [a.id]))[0]?.material as Uint8Array;
    const rowB = (await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ?', [b.id]))[0]?.material as Uint8Array;
    await h.testStore.raw('UPDATE key_versions SET material = ? WHERE key_id = ?', [Buffer.from(rowB), a.id]);
    await h.testStore.raw('UPDATE key_versions SET material = ? WHERE key_id = ?', [Buffer.from(rowA), b.id]);
    await h.restart(); // drop caches, as a new node would
    for (const [key, ct] of [
      ['swap-a', ctA],
      ['swap-b', ctB],
    ] as const) {
      const r = await h.call('POST', `/v1/keys/${key}/decrypt`, { ciphertext: ct });
      expect(r.status).toBe(500);
      expect(r.body.error.code).toBe('internal');
      expect(r.body.error.message).toMatch(/failed its integrity check/);
      expect((await h.call('POST', `/v1/keys/${key}/encrypt`, { plaintext: b64('x') })).status).toBe(500);
    }
  });

  it('material moved to another version of the same key fails too', async () => {
    const k = await h.createKey('swap-v');
    await h.call('POST', '/v1/keys/swap-v/rotate');
    const ct1 = (await h.call('POST', '/v1/keys/swap-v/encrypt', { plaintext: b64('version two') })).body.ciphertext;
    const v1 = (await h.testStore.raw('SELECT material FROM key_versions WHERE key_id = ? AND version = 1', [k.id]))[0]
      ?.material as Uint8Array;
    await h.testStore.raw('UPDATE key_versions SET material = ? WHERE key_id = ? AND version = 2', [Buffer.from(v1), k.id]);
    await h.restart();
    expect((await h.call('POST', '/v1/keys/swap-v/decrypt', { ciphertext: ct1 })).body.error.code).toBe('internal');
  });
});

describe('the hot path', () => {
  it('encrypt and decrypt touch the store only to commit their audit record', async () => {
    await h.createKey('hot');
    const token = await h.principal('svc-hot', ['key-user']);
    await h.grant('hot', 'svc-hot', ['encrypt', 'decrypt']);
    const ct = (await h.call('POST', '/v1/keys/hot/encrypt', { plaintext: b64('warm-up-plaintext') }, token)).body.ciphertext;
    calls.length = 0;
    for (let i = 0; i < 5; i++) {
      expect((await h.call('POST', '/v1/keys/hot/encrypt', { plaintext: b64('hot path') }, token)).status).toBe(200);
      expect((await h.call('POST', '/v1/keys/hot/decrypt', { ciphertext: ct }, token)).status).toBe(200);
    }
    expect(new Set(calls)).toEqual(new Set(['transaction']));
    expect(calls.length).toBeLessThanOrEqual(10);
  });
});
