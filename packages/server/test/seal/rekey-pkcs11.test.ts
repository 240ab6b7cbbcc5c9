import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSeal } from '../../src/bootstrap.js';
import { kekAad } from '../../src/keys/material-aad.js';
import { Pkcs11Seal } from '../../src/seal/pkcs11/pkcs11-seal.js';
import { type NewRootSpec, rekeySeal } from '../../src/seal/rekey/rekey-roots.js';
import type { Seal, SealKind } from '../../src/seal/seal.js';
import { Keyring } from '../../src/service/keyring.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { inProcessSoftHsm } from '../support/softhsm.js';
import { useTempDirs } from './temp-dir.js';

const PIN = `pin-${randomUUID()}`;
const TOKEN = 'keyward-rekey';
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);
const tempDir = useTempDirs('rekey-pkcs11');
const silent = { info() {}, warn() {}, error() {} } as never;
const env = { KEYWARD_PKCS11_PIN: PIN };
const token = { library: hsm.library, token: TOKEN, readPin: async () => PIN };

function pkcs11Options(keyLabel: string) {
  return { library: hsm.library, token: TOKEN, keyLabel, pinFile: null };
}

async function rekey(
  store: Store,
  dir: string,
  current: SealKind,
  next: NewRootSpec,
  configuredLabel = 'keyward-root',
  afterCommit?: () => Promise<void>,
) {
  return rekeySeal({
    store,
    places: { dataDir: dir, pkcs11: token },
    current,
    next,
    shares: [],
    configuredLabel,
    auditNode: 'rekey-test',
    actor: 'os-user:test',
    now: new Date(),
    showShares: () => {},
    ...(afterCommit === undefined ? {} : { afterCommit }),
  });
}

async function expectKek(store: Store, seal: Seal, bytes: Uint8Array): Promise<void> {
  const stored = await store.getKek('payments');
  expect(await seal.unwrap(stored?.wrapped as Uint8Array, kekAad('payments', 1))).toEqual(bytes);
}

async function labelExists(label: string): Promise<boolean> {
  const seal = new Pkcs11Seal({ ...token, keyLabel: label });
  await seal.open();
  const found = seal.status().initialized;
  seal.seal();
  return found;
}

describe('migrating between the file and PKCS#11 seals (SoftHSM2)', () => {
  it('file → pkcs11 → pkcs11 (rekey under a new label) → file, each time every KEK opens and the old root is destroyed', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ path: join(dir, 'keyward.db') });
    await store.migrate();
    const fileSeal = await openSeal('file', store, dir, {}, silent);
    const kek = new Uint8Array((await store.transaction((tx) => new Keyring(fileSeal).currentKek(tx, 'payments', new Date()))).key);
    fileSeal.seal();

    await rekey(store, dir, 'file', { kind: 'pkcs11', label: 'kw-root-a' });
    expect(existsSync(join(dir, 'root.key'))).toBe(false);
    await expect(openSeal('pkcs11', store, dir, env, silent, pkcs11Options('keyward-root'))).rejects.toThrow(
      /rekeyed to the label 'kw-root-a'; start with --pkcs11-key-label kw-root-a/,
    );
    let seal = await openSeal('pkcs11', store, dir, env, silent, pkcs11Options('kw-root-a'));
    await expectKek(store, seal, kek);
    seal.seal();

    await rekey(store, dir, 'pkcs11', { kind: 'pkcs11', label: 'kw-root-b' });
    expect(await labelExists('kw-root-a')).toBe(false);
    seal = await openSeal('pkcs11', store, dir, env, silent, pkcs11Options('kw-root-b'));
    await expectKek(store, seal, kek);
    seal.seal();

    await rekey(store, dir, 'pkcs11', { kind: 'file' });
    expect(await labelExists('kw-root-b')).toBe(false);
    seal = await openSeal('file', store, dir, {}, silent);
    await expectKek(store, seal, kek);
    seal.seal();
    const actions = (await store.listAuditChain('rekey-test', 0, 10)).map((r) => [r.action, r.details.from, r.details.to]);
    expect(actions).toEqual([
      ['seal.rekey', 'file', 'pkcs11'],
      ['seal.rekey', 'pkcs11', 'pkcs11'],
      ['seal.rekey', 'pkcs11', 'file'],
    ]);
    await store.close();
  });

  it('pkcs11 → file interrupted after the commit: the server refuses to start, a re-run writes root.key and destroys the old object', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ path: join(dir, 'keyward.db') });
    await store.migrate();
    const seal = await openSeal('pkcs11', store, dir, env, silent, pkcs11Options('kw-root-d'));
    const kek = new Uint8Array((await store.transaction((tx) => new Keyring(seal).currentKek(tx, 'payments', new Date()))).key);
    seal.seal();
    const crash = async () => {
      throw new Error('simulated crash after the commit');
    };
    await expect(rekey(store, dir, 'pkcs11', { kind: 'file' }, 'kw-root-d', crash)).rejects.toThrow('simulated crash');
    expect(await labelExists('kw-root-d')).toBe(true);
    expect(existsSync(join(dir, 'root.key'))).toBe(false);
    await expect(openSeal('file', store, dir, {}, silent)).rejects.toThrow(/rekey was committed but not finished/);
    const resumed = await rekey(store, dir, 'pkcs11', { kind: 'file' }, 'kw-root-d');
    expect(resumed.resumed).toBe(true);
    expect(await labelExists('kw-root-d')).toBe(false);
    const after = await openSeal('file', store, dir, {}, silent);
    await expectKek(store, after, kek);
    after.seal();
    await store.close();
  });

  it('refuses a new label the token already holds, and changes nothing', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ path: join(dir, 'keyward.db') });
    await store.migrate();
    const seal = await openSeal('pkcs11', store, dir, env, silent, pkcs11Options('kw-root-c'));
    const kek = new Uint8Array((await store.transaction((tx) => new Keyring(seal).currentKek(tx, 'payments', new Date()))).key);
    seal.seal();
    const taken = new Pkcs11Seal({ ...token, keyLabel: 'kw-root-taken' });
    await taken.init();
    taken.seal();
    await expect(rekey(store, dir, 'pkcs11', { kind: 'pkcs11', label: 'kw-root-taken' }, 'kw-root-c')).rejects.toThrow(
      /already holds a key/,
    );
    await expect(rekey(store, dir, 'pkcs11', { kind: 'pkcs11', label: 'kw-root-c' }, 'kw-root-c')).rejects.toThrow(/label other than/);
    const again = await openSeal('pkcs11', store, dir, env, silent, pkcs11Options('kw-root-c'));
    await expectKek(store, again, kek);
    again.seal();
    await store.close();
  });
});
