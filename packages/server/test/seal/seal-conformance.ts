import { CryptoError } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Seal } from '../../src/seal/seal.js';

/** A seal under test: initialized and unsealed, plus a way to start it again from what it persisted. */
export interface SealFixture {
  readonly seal: Seal;
  /** A new instance over the same persisted state, opened and unsealed the way its kind requires. */
  reopen(): Promise<Seal>;
}

/** Makes a fresh, independent fixture (its own files, its own root key). */
export type SealFactory = () => Promise<SealFixture>;

const enc = new TextEncoder();

async function expectSealed(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeywardError);
  expect((error as KeywardError).code).toBe('sealed');
}

async function expectDecryptFailed(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CryptoError);
  expect((error as CryptoError).code).toBe('decrypt_failed');
}

/**
 * The contract of `Seal` (src/seal/seal.ts), run by every adapter against the
 * real thing.
 *
 * @example
 * describeSealConformance('FileSeal', async () => { … return { seal, reopen }; });
 */
export function describeSealConformance(name: string, factory: SealFactory): void {
  describe(`Seal conformance: ${name}`, () => {
    it('round-trips arbitrary plaintexts and AADs', async () => {
      const { seal } = await factory();
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 96 }), fc.uint8Array({ maxLength: 64 }), async (plaintext, aad) => {
          const wrapped = await seal.wrap(plaintext, aad);
          expect(await seal.unwrap(wrapped, aad)).toEqual(plaintext);
        }),
        { numRuns: 50 },
      );
    });

    it('does not modify its inputs', async () => {
      const { seal } = await factory();
      const plaintext = new Uint8Array(32).fill(7);
      const aad = enc.encode('ns/payments');
      const wrapped = await seal.wrap(plaintext, aad);
      expect(plaintext).toEqual(new Uint8Array(32).fill(7));
      const copy = wrapped.slice();
      await seal.unwrap(wrapped, aad);
      expect(wrapped).toEqual(copy);
      expect(aad).toEqual(enc.encode('ns/payments'));
    });

    it('wraps the same plaintext differently each time', async () => {
      const { seal } = await factory();
      const plaintext = new Uint8Array(32).fill(1);
      const aad = enc.encode('aad');
      const a = await seal.wrap(plaintext, aad);
      const b = await seal.wrap(plaintext, aad);
      expect(a).not.toEqual(b);
      expect(Buffer.from(a).includes(Buffer.from(plaintext))).toBe(false);
    });

    it('refuses a wrong AAD with decrypt_failed', async () => {
      const { seal } = await factory();
      const wrapped = await seal.wrap(new Uint8Array(32).fill(2), enc.encode('ns/a'));
      await expectDecryptFailed(seal.unwrap(wrapped, enc.encode('ns/b')));
      await expectDecryptFailed(seal.unwrap(wrapped, new Uint8Array(0)));
      await expectDecryptFailed(seal.unwrap(wrapped, enc.encode('ns/a\0')));
    });

    it('refuses any flipped bit with decrypt_failed', async () => {
      const { seal } = await factory();
      const aad = enc.encode('ns/flip');
      const wrapped = await seal.wrap(new Uint8Array(32).fill(3), aad);
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: wrapped.length * 8 - 1 }), async (bit) => {
          const tampered = wrapped.slice();
          tampered[bit >> 3] = (tampered[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          await expectDecryptFailed(seal.unwrap(tampered, aad));
        }),
        { numRuns: 100 },
      );
    });

    it('refuses truncated, extended and empty blobs with decrypt_failed', async () => {
      const { seal } = await factory();
      const aad = enc.encode('ns/len');
      const wrapped = await seal.wrap(new Uint8Array(32).fill(4), aad);
      await expectDecryptFailed(seal.unwrap(wrapped.subarray(0, wrapped.length - 1), aad));
      await expectDecryptFailed(seal.unwrap(wrapped.subarray(0, 20), aad));
      await expectDecryptFailed(seal.unwrap(new Uint8Array(0), aad));
      await expectDecryptFailed(seal.unwrap(Uint8Array.of(...wrapped, 0), aad));
    });

    it('refuses blobs made under another root key with decrypt_failed', async () => {
      const { seal } = await factory();
      const { seal: other } = await factory();
      const aad = enc.encode('ns/other');
      await expectDecryptFailed(other.unwrap(await seal.wrap(new Uint8Array(32), aad), aad));
    });

    it('reports an unsealed, initialized status', async () => {
      const { seal } = await factory();
      const status = seal.status();
      expect(status).toMatchObject({ kind: seal.kind, initialized: true, sealed: false, progress: 0 });
      expect(Number.isInteger(status.threshold) && status.threshold >= 0).toBe(true);
    });

    it('refuses wrap and unwrap with code sealed once sealed', async () => {
      const { seal } = await factory();
      const aad = enc.encode('ns/sealed');
      const wrapped = await seal.wrap(new Uint8Array(32), aad);
      const threshold = seal.status().threshold;
      seal.seal();
      expect(seal.status()).toEqual({ kind: seal.kind, initialized: true, sealed: true, progress: 0, threshold });
      await expectSealed(seal.wrap(new Uint8Array(32), aad));
      await expectSealed(seal.unwrap(wrapped, aad));
      // Sealed is checked before the blob: garbage still says sealed, not decrypt_failed.
      await expectSealed(seal.unwrap(new Uint8Array(3), aad));
    });

    it('seal() is idempotent', async () => {
      const { seal } = await factory();
      seal.seal();
      const first = seal.status();
      expect(() => seal.seal()).not.toThrow();
      expect(() => seal.seal()).not.toThrow();
      expect(seal.status()).toEqual(first);
      await expectSealed(seal.wrap(new Uint8Array(32), new Uint8Array(0)));
    });

    it('status() is a snapshot the caller cannot use to change the seal', async () => {
      const { seal } = await factory();
      const status = seal.status();
      seal.seal();
      expect(status.sealed).toBe(false);
      expect(seal.status().sealed).toBe(true);
    });

    it('unwraps old blobs after reopening from persisted state', async () => {
      const { seal, reopen } = await factory();
      const kek = new Uint8Array(32).map((_, i) => i);
      const aad = enc.encode('ns/persist');
      const wrapped = await seal.wrap(kek, aad);
      seal.seal();
      const reopened = await reopen();
      expect(reopened.kind).toBe(seal.kind);
      expect(reopened.status()).toMatchObject({ initialized: true, sealed: false, progress: 0 });
      expect(await reopened.unwrap(wrapped, aad)).toEqual(kek);
      // And the other way: what the reopened seal wraps, a third instance unwraps.
      const again = await reopened.wrap(kek, aad);
      expect(await (await reopen()).unwrap(again, aad)).toEqual(kek);
    });
  });
}
