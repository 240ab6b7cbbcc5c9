import { describe, expect, it } from 'vitest';
import type { ImportTokenRecord, WrappingKeyRecord } from '../../src/store/byok-records.js';
import type { StoreKind } from '../support/stores.js';
import { useStores } from './store-fixtures.js';

const pair = (id: string, namespace: string, rotateAt: string, expiresAt: string): WrappingKeyRecord => ({
  id,
  namespace,
  publicKey: `-----BEGIN PUBLIC KEY-----\n${id}\n-----END PUBLIC KEY-----\n`,
  privateKey: Uint8Array.of(1, 2, 3, 0, 255),
  kekVersion: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  rotateAt,
  expiresAt,
});

const token = (tokenHash: string, expiresAt: string): ImportTokenRecord => ({
  tokenHash,
  namespace: 'default',
  keyId: 'key-1',
  algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
  wrappingKeyId: 'pair-1',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt,
  usedAt: null,
});

/** BYOK import wrapping key pairs and tokens, part of the Store contract (src/store/byok-records.ts). */
export function describeByokConformance(kind: StoreKind): void {
  describe(`Store conformance: ${kind}: BYOK import`, () => {
    const open = useStores(kind);

    it('the current wrapping key pair is the namespace’s newest not yet due to rotate; pairs read back byte for byte', async () => {
      const { store } = await open();
      expect(await store.currentWrappingKey('default', '2026-01-02T00:00:00.000Z')).toBeNull();
      const old = pair('pair-1', 'default', '2026-01-08T00:00:00.000Z', '2026-01-09T00:00:00.000Z');
      const next = pair('pair-2', 'default', '2026-01-15T00:00:00.000Z', '2026-01-16T00:00:00.000Z');
      await store.insertWrappingKey(old);
      await store.insertWrappingKey(next);
      await store.insertWrappingKey(pair('pair-3', 'other', '2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z'));
      expect(await store.currentWrappingKey('default', '2026-01-02T00:00:00.000Z')).toEqual(next);
      expect(await store.currentWrappingKey('default', '2026-01-15T00:00:00.000Z')).toBeNull();
      expect(await store.getWrappingKey('pair-1')).toEqual(old);
      expect(await store.getWrappingKey('nope')).toBeNull();
    });

    it('a token is used once; expired tokens and pairs are pruned', async () => {
      const { store } = await open();
      await store.insertWrappingKey(pair('pair-1', 'default', '2026-01-08T00:00:00.000Z', '2026-01-09T00:00:00.000Z'));
      await store.insertImportToken(token('hash-a', '2026-01-02T00:00:00.000Z'));
      await store.insertImportToken(token('hash-b', '2026-01-10T00:00:00.000Z'));
      expect(await store.getImportToken('hash-a')).toEqual(token('hash-a', '2026-01-02T00:00:00.000Z'));
      expect(await store.getImportToken('nope')).toBeNull();
      expect(await store.useImportToken('hash-a', '2026-01-01T01:00:00.000Z')).toBe(true);
      expect(await store.useImportToken('hash-a', '2026-01-01T02:00:00.000Z')).toBe(false);
      expect((await store.getImportToken('hash-a'))?.usedAt).toBe('2026-01-01T01:00:00.000Z');
      expect(await store.pruneImportMaterial('2026-01-09T00:00:00.000Z')).toBe(2);
      expect(await store.getImportToken('hash-a')).toBeNull();
      expect(await store.getWrappingKey('pair-1')).toBeNull();
      expect(await store.getImportToken('hash-b')).not.toBeNull();
    });
  });
}
