import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSeal } from '../../src/bootstrap.js';
import { rekeySeal } from '../../src/seal/rekey/rekey-roots.js';
import { AttestationKey } from '../../src/service/attestation-key.js';
import { Keyring } from '../../src/service/keyring.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('rekey-attest');
const silent = { info() {}, warn() {}, error() {} } as never;

describe('rekey and the attestation key', () => {
  it('re-wraps the attestation key under the new root key: the same key pair afterwards', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ path: join(dir, 'keyward.db') });
    try {
      await store.migrate();
      const seal = await openSeal('file', store, dir, {}, silent);
      const created = await new AttestationKey({ store, keyring: new Keyring(seal), isSealed: () => false }).load();
      expect(created).not.toBeNull();
      const wrappedBefore = await store.getMeta('attestation.signing-key');
      seal.seal();
      const rootBefore = readFileSync(join(dir, 'root.key'));

      const report = await rekeySeal({
        store,
        places: { dataDir: dir, pkcs11: null },
        current: 'file',
        next: { kind: 'file' },
        shares: [],
        configuredLabel: 'keyward-root',
        auditNode: 'rekey-test',
        actor: 'os-user:test',
        now: new Date(),
        showShares: () => {},
      });
      expect(report.resumed).toBe(false);
      expect(readFileSync(join(dir, 'root.key')).equals(rootBefore)).toBe(false);
      const wrappedAfter = await store.getMeta('attestation.signing-key');
      expect(wrappedAfter).not.toBe(wrappedBefore);

      const reopened = await openSeal('file', store, dir, {}, silent);
      const loaded = await new AttestationKey({ store, keyring: new Keyring(reopened), isSealed: () => false }).load();
      expect(loaded?.kid).toBe(created?.kid);
      reopened.seal();
    } finally {
      await store.close();
    }
  });
});
