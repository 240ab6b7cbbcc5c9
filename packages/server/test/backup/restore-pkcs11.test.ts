import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { encryptArchive, writeArchive } from '../../src/backup/archive-writer.js';
import { restoreArchive } from '../../src/backup/restore.js';
import { newRestoreSeal } from '../../src/backup/restore-seal.js';
import { openSeal } from '../../src/bootstrap.js';
import { kekAad } from '../../src/keys/material-aad.js';
import { Pkcs11Seal } from '../../src/seal/pkcs11/pkcs11-seal.js';
import { PKCS11_LABEL_META } from '../../src/seal/rekey/rekey.js';
import { Keyring } from '../../src/service/keyring.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { useTempDirs } from '../seal/temp-dir.js';
import { inProcessSoftHsm } from '../support/softhsm.js';

const PIN = `pin-${randomUUID()}`;
const TOKEN = 'keyward-restore';
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);
const tempDir = useTempDirs('restore-pkcs11');
const silent = { info() {}, warn() {}, error() {} } as never;
const pkcs11 = { kind: 'pkcs11' as const, library: hsm.library, token: TOKEN, readPin: async () => PIN };

/** A file-sealed source with one namespace KEK, backed up to an age file; returns the archive, the identity and the KEK. */
async function backedUpSource(): Promise<{ archive: string; identity: string; kek: Uint8Array }> {
  const dir = await tempDir();
  const store = openSqliteStore({ path: join(dir, 'keyward.db') });
  await store.migrate();
  const seal = await openSeal('file', store, dir, {}, silent);
  const kek = new Uint8Array((await store.transaction((tx) => new Keyring(seal).currentKek(tx, 'payments', new Date()))).key);
  const identity = await generateIdentity();
  const chunks: Uint8Array[] = [];
  const plaintext = new ReadableStream<Uint8Array>({
    async start(controller) {
      await writeArchive({ store, seal, node: 'source', keyward: 'test', now: new Date() }, async (chunk) => {
        controller.enqueue(new Uint8Array(chunk));
      });
      controller.close();
    },
  });
  const encrypted = await encryptArchive([await identityToRecipient(identity)], plaintext);
  for await (const chunk of Readable.fromWeb(encrypted as import('node:stream/web').ReadableStream<Uint8Array>)) chunks.push(chunk);
  const archive = join(dir, 'backup.age');
  await writeFile(archive, Buffer.concat(chunks));
  seal.seal();
  await store.close();
  return { archive, identity, kek };
}

const KEYWARD = fileURLToPath(new URL('../../../../bin/keyward', import.meta.url));

describe('restore into a PKCS#11 seal (SoftHSM2)', () => {
  it('keyward backup restore --seal pkcs11 with the PIN in a 0600 file (needs npm run build)', async () => {
    const { archive, identity, kek } = await backedUpSource();
    const dir = await tempDir();
    const identityFile = join(dir, 'custodian.txt');
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    const pinFile = join(dir, 'pin');
    await writeFile(pinFile, `${PIN}\n`, { mode: 0o600 });
    const target = join(dir, 'target');
    const { KEYWARD_PKCS11_PIN: _, KEYWARD_DATABASE_URL: __, ...env } = process.env;
    const args = ['backup', 'restore', archive, '--identity', identityFile, '--data-dir', target, '--seal', 'pkcs11'];
    const pkcs11Args = [
      '--pkcs11-library',
      hsm.library,
      '--pkcs11-token',
      TOKEN,
      '--pkcs11-key-label',
      'kw-cli',
      '--pkcs11-pin-file',
      pinFile,
    ];
    const restored = spawnSync(process.execPath, [KEYWARD, ...args, ...pkcs11Args], {
      encoding: 'utf8',
      env: { ...env, ...hsm.env },
      timeout: 60_000,
    });
    expect(restored.stderr).toBe('');
    expect(restored.status).toBe(0);
    expect(restored.stdout).toContain("New root key in token 'keyward-restore' labelled 'kw-cli'");
    expect(restored.stdout + restored.stderr).not.toContain(PIN);
    const store = openSqliteStore({ path: join(target, 'keyward.db') });
    const seal = new Pkcs11Seal({ ...pkcs11, keyLabel: 'kw-cli' });
    await seal.open();
    const stored = await store.getKek('payments');
    expect(await seal.unwrap(stored?.wrapped as Uint8Array, kekAad('payments', 1))).toEqual(kek);
    seal.seal();
    await store.close();
    const usage = spawnSync(process.execPath, [KEYWARD, ...args, '--pkcs11-library', hsm.library], {
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--seal pkcs11 needs --pkcs11-token LABEL');
  });

  it('creates a new root key in the token, wraps every KEK under it, records the label, and the server starts with it', async () => {
    const { archive, identity, kek } = await backedUpSource();
    const target = await tempDir();
    const report = await restoreArchive({
      archive,
      identities: [identity],
      openTarget: async () => ({ store: openSqliteStore({ path: join(target, 'keyward.db') }), hasFiles: false }),
      newSeal: () => newRestoreSeal({ ...pkcs11, keyLabel: 'kw-restored' }),
      force: false,
    });
    expect(report.shares).toBeNull();
    const store = openSqliteStore({ path: join(target, 'keyward.db') });
    expect(await store.getMeta(PKCS11_LABEL_META)).toBe('kw-restored');
    const seal = await openSeal('pkcs11', store, target, { KEYWARD_PKCS11_PIN: PIN }, silent, {
      library: hsm.library,
      token: TOKEN,
      keyLabel: 'kw-restored',
      pinFile: null,
    });
    const stored = await store.getKek('payments');
    expect(await seal.unwrap(stored?.wrapped as Uint8Array, kekAad('payments', 1))).toEqual(kek);
    seal.seal();
    await store.close();
  });

  it('refuses a label the token already holds, and a restore that fails destroys the key it made', async () => {
    const { archive, identity } = await backedUpSource();
    const taken = new Pkcs11Seal({ ...pkcs11, keyLabel: 'kw-taken' });
    await taken.init();
    taken.seal();
    await expect(newRestoreSeal({ ...pkcs11, keyLabel: 'kw-taken' })).rejects.toThrow(/already holds a key labelled 'kw-taken'/);

    const target = await tempDir();
    await expect(
      restoreArchive({
        archive,
        identities: [identity],
        openTarget: async () => ({ store: openSqliteStore({ path: join(target, 'keyward.db') }), hasFiles: false }),
        newSeal: async () => {
          const made = await newRestoreSeal({ ...pkcs11, keyLabel: 'kw-aborted' });
          // The wrap fails mid-restore: the restore must abort and destroy the new key.
          return {
            ...made,
            seal: {
              ...made.seal,
              kind: 'pkcs11',
              status: () => made.seal.status(),
              seal: () => made.seal.seal(),
              open: () => made.seal.open(),
              unwrap: (b, a) => made.seal.unwrap(b, a),
              wrap: async () => {
                throw new Error('token failure');
              },
            },
          };
        },
        force: false,
      }),
    ).rejects.toThrow('token failure');
    const probe = new Pkcs11Seal({ ...pkcs11, keyLabel: 'kw-aborted' });
    await probe.open();
    expect(probe.status().initialized).toBe(false);
  });
});
