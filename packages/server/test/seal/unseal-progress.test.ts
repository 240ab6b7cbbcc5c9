import { describe, expect, it } from 'vitest';
import { UnsealProgress } from '../../src/seal/shamir/unseal-progress.js';

/** A 33-byte share: 32 y bytes of `fill`, then `x`. */
function share(x: number, fill: number): Uint8Array {
  const bytes = new Uint8Array(33).fill(fill);
  bytes[32] = x;
  return bytes;
}

describe('UnsealProgress', () => {
  it('counts shares by x coordinate, and tells a resubmitted share from a different one at the same x', () => {
    const progress = new UnsealProgress();
    expect(progress.add(share(1, 7))).toBe('added');
    expect(progress.add(share(2, 7))).toBe('added');
    expect(progress.add(share(1, 7))).toBe('duplicate');
    expect(progress.count).toBe(2);
    const other = share(2, 7);
    other[31] = 8; // one y byte differs
    expect(progress.add(other)).toBe('conflict');
    // It keeps what it held: the caller decides what a conflict does to the progress.
    expect(progress.count).toBe(2);
  });

  it('zeroes a share it does not keep, and keeps the first one intact', () => {
    const progress = new UnsealProgress();
    const first = share(5, 9);
    progress.add(first);
    const again = share(5, 9);
    const different = share(5, 4);
    expect(progress.add(again)).toBe('duplicate');
    expect(progress.add(different)).toBe('conflict');
    expect([...again].every((b) => b === 0)).toBe(true);
    expect([...different].every((b) => b === 0)).toBe(true);
    expect(first).toEqual(share(5, 9));
    const [taken] = progress.take();
    expect(taken).toBe(first);
    expect(progress.count).toBe(0);
  });

  it('clear() zeroes every held share', () => {
    const progress = new UnsealProgress();
    const held = [share(1, 3), share(2, 3)];
    for (const s of held) progress.add(s);
    progress.clear();
    expect(progress.count).toBe(0);
    for (const s of held) expect([...s].every((b) => b === 0)).toBe(true);
  });
});
