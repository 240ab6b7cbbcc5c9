import { join } from 'node:path';
import { KeywardError } from '@keyward/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShamirSeal } from '../../src/seal/shamir/shamir-seal.js';
import { decodeShare, encodeShare } from '../../src/seal/shamir/share-encoding.js';
import { rejectionOf } from '../support/rejections.js';
import { FileStateStore } from './file-state-store.js';
import { describeSealConformance } from './seal-conformance.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('shamir-seal');
const aad = new TextEncoder().encode('ns/test');

interface Initialized {
  store: FileStateStore;
  seal: ShamirSeal;
  shares: string[];
}

async function initialized(shares = 5, threshold = 3): Promise<Initialized> {
  const store = new FileStateStore(join(await tempDir(), 'seal-state.json'));
  const seal = new ShamirSeal({ state: store });
  await seal.open();
  return { store, seal, shares: await seal.init({ shares, threshold }) };
}

async function fresh(store: FileStateStore): Promise<ShamirSeal> {
  const seal = new ShamirSeal({ state: store });
  await seal.open();
  return seal;
}

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, KeywardError);

/** The x coordinate of an encoded share. */
function xOf(share: string): number {
  const bytes = decodeShare(share);
  return bytes[bytes.length - 1] ?? 0;
}

describeSealConformance('ShamirSeal', async () => {
  const { store, seal, shares } = await initialized(5, 3);
  return {
    seal,
    reopen: async () => {
      const reopened = await fresh(store);
      for (const share of shares.slice(2, 5)) await reopened.submitShare(share);
      return reopened;
    },
  };
});

describe('ShamirSeal init', () => {
  it('returns `shares` distinct kws1 shares and leaves the seal unsealed', async () => {
    const { seal, shares } = await initialized(5, 3);
    expect(shares).toHaveLength(5);
    expect(new Set(shares).size).toBe(5);
    for (const share of shares) expect(share).toMatch(/^kws1\.[A-Za-z0-9_-]{44}$/);
    expect(new Set(shares.map(xOf)).size).toBe(5);
    expect(seal.status()).toEqual({ kind: 'shamir', initialized: true, sealed: false, progress: 0, threshold: 3 });
  });

  it('supports the extremes 2-of-2 and 255-of-255', async () => {
    const small = await initialized(2, 2);
    expect(small.shares).toHaveLength(2);
    const large = await initialized(255, 255);
    expect(large.shares).toHaveLength(255);
    const wrapped = await large.seal.wrap(Uint8Array.of(1), aad);
    const reopened = await fresh(large.store);
    for (const share of large.shares) await reopened.submitShare(share);
    expect(await reopened.unwrap(wrapped, aad)).toEqual(Uint8Array.of(1));
  });

  it('persists no share and no root key', async () => {
    const { store, shares } = await initialized(5, 2);
    const state = (await store.read()) ?? '';
    expect(state).not.toBe('');
    for (const share of shares) {
      const bytes = Buffer.from(decodeShare(share));
      expect(state).not.toContain(share);
      expect(state).not.toContain(share.slice(5));
      expect(state).not.toContain(bytes.toString('hex'));
      expect(state).not.toContain(bytes.toString('base64'));
    }
    // Any two shares rebuild the root key (threshold 2); its encodings must not be in the state.
    const { combine } = await import('shamir-secret-sharing');
    const root = Buffer.from(await combine(shares.slice(0, 2).map(decodeShare)));
    for (const encoding of ['hex', 'base64', 'base64url'] as const) expect(state).not.toContain(root.toString(encoding));
    expect(JSON.parse(state)).toMatchObject({ format: 'keyward-seal-shamir/v1', threshold: 2, shares: 5 });
  });

  it('the key-check blob in the state cannot be passed off as a caller blob', async () => {
    const { store, seal } = await initialized(3, 2);
    const { check } = JSON.parse((await store.read()) ?? '{}') as { check: string };
    const blob = new Uint8Array(Buffer.from(check, 'base64url'));
    for (const candidate of ['keyward/seal/check/v1', '']) {
      const error = await seal.unwrap(blob, new TextEncoder().encode(candidate)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'CryptoError', code: 'decrypt_failed' });
    }
  });

  it('refuses a second init with conflict, on the same and on a new instance', async () => {
    const { store, seal } = await initialized();
    expect((await rejection(seal.init({ shares: 3, threshold: 2 }))).code).toBe('conflict');
    expect((await rejection(new ShamirSeal({ state: store }).init({ shares: 3, threshold: 2 }))).code).toBe('conflict');
  });

  it('two nodes over one state store initialize at once: one wins, the other answers conflict and takes its state', async () => {
    const store = new FileStateStore(join(await tempDir(), 'state.json'));
    const [a, b] = [await fresh(store), await fresh(store)];
    const results = await Promise.allSettled([a.init({ shares: 3, threshold: 2 }), b.init({ shares: 3, threshold: 2 })]);
    const won = results.findIndex((r) => r.status === 'fulfilled');
    const lost = results.findIndex((r) => r.status === 'rejected');
    expect([won, lost].sort()).toEqual([0, 1]);
    expect(((results[lost] as PromiseRejectedResult).reason as KeywardError).code).toBe('conflict');
    const [winner, loser] = won === 0 ? [a, b] : [b, a];
    const shares = (results[won] as PromiseFulfilledResult<string[]>).value;
    // The loser kept no root of its own: it is initialized (the winner's state) and sealed.
    expect(loser.status()).toMatchObject({ initialized: true, sealed: true, threshold: 2 });
    for (const share of shares.slice(0, 2)) await loser.submitShare(share);
    expect(loser.status().sealed).toBe(false);
    // One root key: what either wraps, the other unwraps.
    const secret = new Uint8Array(32).fill(3);
    expect(await loser.unwrap(await winner.wrap(secret, aad), aad)).toEqual(secret);
    expect(await fresh(store).then((s) => s.status())).toMatchObject({ initialized: true, threshold: 2 });
  });

  it('refuses concurrent inits: exactly one succeeds', async () => {
    const store = new FileStateStore(join(await tempDir(), 'state.json'));
    const seal = new ShamirSeal({ state: store });
    const results = await Promise.allSettled([seal.init({ shares: 3, threshold: 2 }), seal.init({ shares: 3, threshold: 2 })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  const badParams: [string, unknown, string][] = [
    ['threshold > shares', { shares: 3, threshold: 4 }, 'threshold'],
    ['threshold 0', { shares: 3, threshold: 0 }, 'threshold'],
    ['threshold 1', { shares: 3, threshold: 1 }, 'threshold'],
    ['shares 0', { shares: 0, threshold: 0 }, 'shares'],
    ['shares 1', { shares: 1, threshold: 1 }, 'shares'],
    ['shares > 255', { shares: 256, threshold: 2 }, 'shares'],
    ['threshold > 255', { shares: 255, threshold: 256 }, 'threshold'],
    ['non-integer shares', { shares: 3.5, threshold: 2 }, 'shares'],
    ['non-integer threshold', { shares: 3, threshold: 2.5 }, 'threshold'],
    ['NaN threshold', { shares: 3, threshold: Number.NaN }, 'threshold'],
    ['string shares', { shares: '3', threshold: 2 }, 'shares'],
    ['missing threshold', { shares: 3 }, 'threshold'],
    ['negative shares', { shares: -3, threshold: 2 }, 'shares'],
  ];
  it.each(badParams)('refuses %s with invalid_request naming the field, and stays uninitialized', async (_, params, field) => {
    const store = new FileStateStore(join(await tempDir(), 'state.json'));
    const seal = new ShamirSeal({ state: store });
    await seal.open();
    const error = await rejection(seal.init(params as { shares: number; threshold: number }));
    expect(error.code).toBe('invalid_request');
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect(await store.read()).toBeNull();
    expect(seal.status()).toMatchObject({ initialized: false, sealed: true });
  });
});

describe('ShamirSeal unseal', () => {
  it('reports not initialized and sealed before init', async () => {
    const seal = await fresh(new FileStateStore(join(await tempDir(), 'state.json')));
    expect(seal.status()).toEqual({ kind: 'shamir', initialized: false, sealed: true, progress: 0, threshold: 0 });
    expect((await rejection(seal.submitShare('kws1.x'))).code).toBe('invalid_state');
  });

  it('threshold-1 shares leave it sealed with the right progress', async () => {
    const { store, shares } = await initialized(5, 4);
    const seal = await fresh(store);
    expect(seal.status()).toEqual({ kind: 'shamir', initialized: true, sealed: true, progress: 0, threshold: 4 });
    for (const [i, share] of shares.slice(0, 3).entries()) {
      expect(await seal.submitShare(share)).toEqual({ kind: 'shamir', initialized: true, sealed: true, progress: i + 1, threshold: 4 });
    }
    expect((await rejection(seal.wrap(Uint8Array.of(1), aad))).code).toBe('sealed');
    expect(await seal.submitShare(shares[4] ?? '')).toMatchObject({ sealed: false, progress: 0 });
  });

  it('any threshold-sized subset of shares, in any order, unseals', async () => {
    const { store, seal, shares } = await initialized(6, 3);
    const kek = Uint8Array.of(1, 2, 3, 4);
    const wrapped = await seal.wrap(kek, aad);
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(shares, { minLength: 3, maxLength: 6 }), async (subset) => {
        const reopened = await fresh(store);
        let status = reopened.status();
        for (const share of subset) status = await reopened.submitShare(share);
        expect(status).toMatchObject({ sealed: false, progress: 0 });
        expect(await reopened.unwrap(wrapped, aad)).toEqual(kek);
      }),
      { numRuns: 40 },
    );
  });

  it('a share from another initialization fails at the threshold and resets progress', async () => {
    const { store, shares } = await initialized(3, 2);
    const other = await initialized(3, 2);
    const seal = await fresh(store);
    const mine = shares[0] ?? '';
    const foreign = other.shares.find((s) => xOf(s) !== xOf(mine)) ?? '';
    expect(await seal.submitShare(mine)).toMatchObject({ progress: 1 });
    const error = await rejection(seal.submitShare(foreign));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('share: the submitted shares do not reconstruct the root key; unseal progress was reset');
    expect(seal.status()).toEqual({ kind: 'shamir', initialized: true, sealed: true, progress: 0, threshold: 2 });
    // A correct ceremony afterwards still works.
    await seal.submitShare(shares[1] ?? '');
    expect(await seal.submitShare(shares[2] ?? '')).toMatchObject({ sealed: false });
  });

  it('a tampered share fails at the threshold and resets progress', async () => {
    const { store, shares } = await initialized(3, 2);
    const seal = await fresh(store);
    const bytes = decodeShare(shares[1] ?? '');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    const tampered = `kws1.${Buffer.from(bytes).toString('base64url')}`;
    await seal.submitShare(shares[0] ?? '');
    expect((await rejection(seal.submitShare(tampered))).code).toBe('invalid_request');
    expect(seal.status()).toMatchObject({ sealed: true, progress: 0 });
  });

  it('a different share at an accepted x coordinate resets progress at once, naming share', async () => {
    const { store, shares } = await initialized(5, 3);
    const other = await initialized(5, 3);
    const seal = await fresh(store);
    const mine = shares[0] ?? '';
    // Another initialization's y values at our share's x (random x coordinates collide 1 time in 255:
    // made to collide here), and our own share with one y byte changed.
    const foreignBytes = decodeShare(other.shares[0] ?? '');
    foreignBytes[foreignBytes.length - 1] = xOf(mine);
    const tamperedBytes = decodeShare(mine);
    tamperedBytes[3] = (tamperedBytes[3] ?? 0) ^ 0x80;
    for (const conflicting of [encodeShare(foreignBytes), encodeShare(tamperedBytes)]) {
      await seal.submitShare(shares[1] ?? '');
      expect(await seal.submitShare(mine)).toMatchObject({ sealed: true, progress: 2 });
      const error = await rejection(seal.submitShare(conflicting));
      expect(error.code).toBe('invalid_request');
      expect(error.message).toBe(
        "share: differs from an accepted share with the same x coordinate (another initialization's share, or a corrupt one); unseal progress was reset",
      );
      for (const share of [mine, conflicting]) expect(error.message).not.toContain(share.slice(5, 15));
      expect(seal.status()).toEqual({ kind: 'shamir', initialized: true, sealed: true, progress: 0, threshold: 3 });
    }
    // The ceremony starts over and the right shares still unseal.
    for (const share of shares.slice(2, 4)) await seal.submitShare(share);
    expect(await seal.submitShare(mine)).toMatchObject({ sealed: false });
  });

  it('does not count a duplicate share twice', async () => {
    const { store, shares } = await initialized(5, 3);
    const seal = await fresh(store);
    const first = shares[0] ?? '';
    await seal.submitShare(first);
    expect(await seal.submitShare(first)).toMatchObject({ sealed: true, progress: 1 });
    expect(await seal.submitShare(`  ${first}\n`)).toMatchObject({ sealed: true, progress: 1 });
    await seal.submitShare(shares[1] ?? '');
    expect(await seal.submitShare(shares[1] ?? '')).toMatchObject({ sealed: true, progress: 2 });
    expect(await seal.submitShare(shares[2] ?? '')).toMatchObject({ sealed: false });
  });

  it('returns the status without error when already unsealed', async () => {
    const { seal, shares } = await initialized(3, 2);
    expect(await seal.submitShare(shares[0] ?? '')).toEqual(seal.status());
    expect(await seal.submitShare('garbage')).toMatchObject({ sealed: false });
  });

  it('seal() discards pending progress', async () => {
    const { store, shares } = await initialized(5, 3);
    const seal = await fresh(store);
    await seal.submitShare(shares[0] ?? '');
    await seal.submitShare(shares[1] ?? '');
    seal.seal();
    expect(seal.status()).toMatchObject({ sealed: true, progress: 0 });
    expect(await seal.submitShare(shares[2] ?? '')).toMatchObject({ sealed: true, progress: 1 });
  });

  it('seal() during a reconstruction wins: the seal stays sealed', async () => {
    const { store, shares } = await initialized(3, 2);
    const seal = await fresh(store);
    await seal.submitShare(shares[0] ?? '');
    const pending = seal.submitShare(shares[1] ?? '');
    seal.seal();
    await pending;
    expect(seal.status()).toMatchObject({ sealed: true, progress: 0 });
  });

  it('concurrent submissions past the threshold unseal once and count nothing extra', async () => {
    const { store, shares } = await initialized(5, 2);
    const seal = await fresh(store);
    const results = await Promise.all(shares.map((s) => seal.submitShare(s)));
    expect(results.at(-1)).toMatchObject({ sealed: false, progress: 0 });
    expect(seal.status()).toMatchObject({ sealed: false, progress: 0 });
  });

  const malformed: [string, unknown][] = [
    ['empty', ''],
    ['no prefix', 'A'.repeat(44)],
    ['wrong prefix', `kws2.${'A'.repeat(44)}`],
    ['too short', `kws1.${'A'.repeat(43)}`],
    ['too long', `kws1.${'A'.repeat(45)}`],
    ['padding', `kws1.${'A'.repeat(43)}=`],
    ['standard base64 characters', `kws1.${'A'.repeat(43)}+`],
    ['inner whitespace', `kws1.${'A'.repeat(22)} ${'A'.repeat(20)}B`],
    ['x coordinate zero', `kws1.${'A'.repeat(44)}`],
    ['not a string', 42],
    ['huge', `kws1.${'A'.repeat(1_000_000)}`],
  ];
  it.each(malformed)('refuses a malformed share (%s) with invalid_request naming share, counting nothing', async (_, share) => {
    const { store, shares } = await initialized(3, 2);
    const seal = await fresh(store);
    await seal.submitShare(shares[0] ?? '');
    const error = await rejection(seal.submitShare(share as string));
    expect(error.code).toBe('invalid_request');
    expect(error.message.startsWith('share: ')).toBe(true);
    expect(seal.status()).toMatchObject({ sealed: true, progress: 1 });
  });

  it('error messages never contain a share', async () => {
    const { store, shares } = await initialized(3, 2);
    const other = await initialized(3, 2);
    const seal = await fresh(store);
    const mine = shares[0] ?? '';
    const foreign = other.shares.find((s) => xOf(s) !== xOf(mine)) ?? '';
    await seal.submitShare(mine);
    const error = await rejection(seal.submitShare(foreign));
    for (const share of [mine, foreign]) expect(error.message).not.toContain(share.slice(5, 15));
  });

  it('open() refuses corrupt state with internal and stays sealed', async () => {
    const { store, seal } = await initialized(3, 2);
    await store.overwrite('{"format":"keyward-seal-shamir/v1","id":"x","threshold":9,"shares":3,"check":"AA"}');
    const error = await rejection(seal.open());
    expect(error.code).toBe('internal');
    expect(error.message).toContain('threshold');
    expect(seal.status()).toMatchObject({ sealed: true, initialized: false });
    await store.overwrite('not json');
    expect((await rejection(fresh(store))).code).toBe('internal');
  });

  it('open() on an unchanged state keeps an unsealed seal unsealed', async () => {
    const { seal } = await initialized(3, 2);
    await seal.open();
    expect(seal.status()).toMatchObject({ sealed: false });
  });
});
