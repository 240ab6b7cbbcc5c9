import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type CachedDataKey, DataKeyCache, type DataKeyCacheOptions } from '../src/index.js';

/** A data-key source that counts its calls and keeps what it handed out (to check the zeroing). */
function source() {
  const issued: CachedDataKey[] = [];
  const fetch = async (): Promise<CachedDataKey> => {
    const key = { plaintext: randomBytes(32), wrappedKey: `kw1:${issued.length}`, keyVersion: 1 };
    issued.push(key);
    return key;
  };
  return { issued, fetch };
}

const bounds: DataKeyCacheOptions = { maxAgeMs: 1000, maxMessages: 3, maxBytes: 100, maxEntries: 2 };
const zeroed = (key: CachedDataKey | undefined) => key?.plaintext.every((b) => b === 0) === true;

describe('DataKeyCache', () => {
  it('reuses a data key for the same id, not for another id', async () => {
    const { issued, fetch } = source();
    const cache = new DataKeyCache(bounds, () => 0);
    const a = await cache.lease('k\u0000ctx-a', fetch);
    const b = await cache.lease('k\u0000ctx-a', fetch);
    const c = await cache.lease('k\u0000ctx-b', fetch);
    expect(b.dataKey).toBe(a.dataKey);
    expect(c.dataKey).not.toBe(a.dataKey);
    expect(issued).toHaveLength(2);
  });

  it('maximum age: a key as old as maxAgeMs is replaced and zeroed (injected clock)', async () => {
    const { issued, fetch } = source();
    let now = 10_000;
    const cache = new DataKeyCache(bounds, () => now);
    await cache.lease('id', fetch);
    now += 999;
    await cache.lease('id', fetch);
    expect(issued).toHaveLength(1);
    now += 1;
    const fresh = await cache.lease('id', fetch);
    expect(issued).toHaveLength(2);
    expect(fresh.dataKey).toBe(issued[1]);
    expect(zeroed(issued[0])).toBe(true);
    expect(zeroed(issued[1])).toBe(false);
  });

  it('maximum messages: the fourth message gets a new key', async () => {
    const { issued, fetch } = source();
    const cache = new DataKeyCache(bounds, () => 0);
    for (let i = 0; i < 3; i++) await cache.lease('id', fetch);
    expect(issued).toHaveLength(1);
    await cache.lease('id', fetch);
    expect(issued).toHaveLength(2);
    expect(zeroed(issued[0])).toBe(true);
  });

  it('maximum bytes: once the messages of a key encrypted maxBytes, the next message gets a new key', async () => {
    const { issued, fetch } = source();
    const cache = new DataKeyCache({ ...bounds, maxMessages: 100 }, () => 0);
    const first = await cache.lease('id', fetch);
    first.addBytes(99);
    (await cache.lease('id', fetch)).addBytes(0);
    expect(issued).toHaveLength(1);
    first.addBytes(1);
    await cache.lease('id', fetch);
    expect(issued).toHaveLength(2);
    expect(zeroed(issued[0])).toBe(true);
  });

  it('maximum entries: the oldest entry is evicted and zeroed', async () => {
    const { issued, fetch } = source();
    const cache = new DataKeyCache(bounds, () => 0);
    await cache.lease('a', fetch);
    await cache.lease('b', fetch);
    await cache.lease('c', fetch);
    expect(cache.size).toBe(2);
    expect(zeroed(issued[0])).toBe(true);
    expect(zeroed(issued[1])).toBe(false);
    await cache.lease('b', fetch);
    expect(issued).toHaveLength(3);
  });

  it('clear() zeroes and drops every key', async () => {
    const { issued, fetch } = source();
    const cache = new DataKeyCache(bounds, () => 0);
    await cache.lease('a', fetch);
    await cache.lease('b', fetch);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(issued.every(zeroed)).toBe(true);
  });

  it('refuses bounds that are not positive integers, naming the field', () => {
    for (const field of ['maxAgeMs', 'maxMessages', 'maxBytes', 'maxEntries'] as const) {
      for (const value of [0, -1, 1.5, Number.NaN]) {
        expect(() => new DataKeyCache({ ...bounds, [field]: value })).toThrow(`cache.${field}: must be a positive integer`);
      }
    }
  });

  it('a failed fetch caches nothing', async () => {
    const cache = new DataKeyCache(bounds, () => 0);
    await expect(cache.lease('id', () => Promise.reject(new Error('sealed')))).rejects.toThrow('sealed');
    expect(cache.size).toBe(0);
  });
});
