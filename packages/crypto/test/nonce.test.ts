import { describe, expect, it } from 'vitest';
import { randomNonce } from '../src/aead.js';

describe('randomNonce', () => {
  it('hands out 12-byte nonces that never repeat across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const nonce = randomNonce();
      expect(nonce).toHaveLength(12);
      seen.add(Buffer.from(nonce).toString('hex'));
    }
    expect(seen.size).toBe(5000);
  });

  it('returns independent copies: changing one nonce does not change the next', () => {
    const a = randomNonce();
    const copy = Uint8Array.from(a);
    a.fill(0);
    const b = randomNonce();
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(false);
    expect(copy.some((x) => x !== 0)).toBe(true);
  });
});
