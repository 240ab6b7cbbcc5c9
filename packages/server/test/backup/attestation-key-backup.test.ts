import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreArchive } from '../../src/backup/restore.js';
import { newRestoreSeal } from '../../src/backup/restore-seal.js';
import { openSeal } from '../../src/bootstrap.js';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { AttestationKey } from '../../src/service/attestation-key.js';
import { Keyring } from '../../src/service/keyring.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { Harness } from '../support/harness.js';

const silent = { info() {}, warn() {}, error() {} } as never;

describe('the attestation key in a backup', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-attest-backup-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is re-wrapped by the backup and restored under the new seal: the restored server has the same key', async () => {
    const identity = await generateIdentity();
    const directory = join(dir, 'archives');
    const policy = parsePolicy(`backups:\n  directory: ${directory}\n  recipients: [${await identityToRecipient(identity)}]\n`);
    const h = await Harness.start({ policy: new FixedPolicy(policy) });
    let kid: string;
    let wrappedAtSource: string | null;
    try {
      const published = await h.call('GET', '/v1/attestations/public-key');
      expect(published.status).toBe(200);
      kid = published.body.kid as string;
      wrappedAtSource = await h.store.getMeta('attestation.signing-key');
      expect(wrappedAtSource).not.toBeNull();
      expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true, file: 'keyward-backup-20260601T000000Z.age' });
    } finally {
      await h.close();
    }

    const target = join(dir, 'target');
    await mkdir(target);
    await restoreArchive({
      archive: join(directory, 'keyward-backup-20260601T000000Z.age'),
      identities: [identity],
      openTarget: async () => ({ store: openSqliteStore({ path: join(target, 'keyward.db') }), hasFiles: false }),
      newSeal: () => newRestoreSeal({ kind: 'file', dataDir: target }),
      force: false,
    });
    const store = openSqliteStore({ path: join(target, 'keyward.db') });
    try {
      const stored = await store.getMeta('attestation.signing-key');
      // Wrapped under the restored server's new root key, not copied.
      expect(stored).not.toBeNull();
      expect(stored).not.toBe(wrappedAtSource);
      const seal = await openSeal('file', store, target, {}, silent);
      const key = new AttestationKey({ store, keyring: new Keyring(seal), isSealed: () => seal.status().sealed });
      expect((await key.load())?.kid).toBe(kid);
      seal.seal();
      // Sealed, the key is not available.
      expect(await key.load()).toBeNull();
    } finally {
      await store.close();
    }
  });
});
