import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditRecordHash } from '@keyward/crypto';
import { describe, expect, it } from 'vitest';
import { openSeal } from '../../src/bootstrap.js';
import { webhookSecretAad } from '../../src/events/signature.js';
import { kekAad } from '../../src/keys/material-aad.js';
import { FileSeal } from '../../src/seal/file/file-seal.js';
import { REKEY_META } from '../../src/seal/rekey/rekey.js';
import { type NewRootSpec, type RekeyRun, rekeySeal } from '../../src/seal/rekey/rekey-roots.js';
import type { SealKind } from '../../src/seal/seal.js';
import type { ShamirSeal } from '../../src/seal/shamir/shamir-seal.js';
import { Keyring } from '../../src/service/keyring.js';
import { totpSecretAad } from '../../src/service/totp.js';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { WebhookRecord } from '../../src/store/records.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('rekey');
const WEBHOOK_SECRET = new TextEncoder().encode('webhook signing secret, 32 bytes');
const TOTP_SECRET = new TextEncoder().encode('totp shared secret');
const silent = { info() {}, warn() {}, error() {} } as never;
const PG = process.env.KEYWARD_TEST_DATABASE_URL;

type Dialect = 'sqlite' | 'postgres';
const dialects: Dialect[] = PG ? ['sqlite', 'postgres'] : ['sqlite'];

async function openStore(dialect: Dialect, dir: string): Promise<Store> {
  if (dialect === 'sqlite') return openSqliteStore({ path: join(dir, 'keyward.db') });
  const store = openPostgresStore({ connectionString: PG as string });
  await store.migrate();
  await store.loadTables(true, async () => {});
  return store;
}

/** A data directory initialized with the file seal and two namespace KEKs; returns the KEK bytes. */
async function initialized(dialect: Dialect): Promise<{ dir: string; store: Store; keks: Map<string, Uint8Array> }> {
  const dir = await tempDir();
  const store = await openStore(dialect, dir);
  await store.migrate();
  const seal = await openSeal('file', store, dir, {}, silent);
  const keyring = new Keyring(seal);
  const keks = new Map<string, Uint8Array>();
  for (const ns of ['payments', 'billing']) {
    const kek = await store.transaction((tx) => keyring.currentKek(tx, ns, new Date()));
    keks.set(ns, new Uint8Array(kek.key));
  }
  // The other root-wrapped secrets: a webhook signing secret and a TOTP secret (backup/root-wrapped.ts).
  const now = new Date().toISOString();
  await store.insertWebhook({
    id: 'wh-1',
    url: 'https://hooks.example/keyward',
    events: [],
    secret: await seal.wrap(WEBHOOK_SECRET, webhookSecretAad('wh-1')),
    createdAt: now,
    createdBy: 'admin',
    state: 'active',
    failureReason: null,
    cursor: 0,
    attempts: 0,
    nextAttemptAt: null,
    lastDeliveryAt: null,
  } as WebhookRecord);
  await store.insertTotp({
    principalId: 'admin',
    secret: await seal.wrap(TOTP_SECRET, totpSecretAad('admin')),
    createdAt: now,
    confirmedAt: null,
    lastStep: null,
  });
  seal.seal();
  return { dir, store, keks };
}

function run(store: Store, dir: string, current: SealKind, next: NewRootSpec, extra: Partial<RekeyRun> = {}): RekeyRun {
  return {
    store,
    places: { dataDir: dir, pkcs11: null },
    current,
    next,
    shares: [],
    configuredLabel: 'keyward-root',
    auditNode: 'rekey-test',
    actor: 'os-user:test',
    now: new Date(),
    showShares: () => {},
    ...extra,
  };
}

async function expectKeks(store: Store, unwrapWith: { unwrap: FileSeal['unwrap'] }, keks: Map<string, Uint8Array>): Promise<void> {
  for (const [ns, bytes] of keks) {
    const stored = await store.getKek(ns);
    expect(await unwrapWith.unwrap(stored?.wrapped as Uint8Array, kekAad(ns, 1))).toEqual(bytes);
  }
  const webhook = await store.getWebhook('wh-1');
  expect(await unwrapWith.unwrap(webhook?.secret as Uint8Array, webhookSecretAad('wh-1'))).toEqual(WEBHOOK_SECRET);
  const totp = await store.getTotp('admin');
  expect(await unwrapWith.unwrap(totp?.secret as Uint8Array, totpSecretAad('admin'))).toEqual(TOTP_SECRET);
}

async function expectAuditedRekey(store: Store): Promise<void> {
  const records = await store.listAuditChain('rekey-test', 0, 10);
  expect(records.map((r) => r.action)).toEqual(['seal.rekey']);
  const record = records[0];
  if (record === undefined) throw new Error('no record');
  const { hash, chainSeq, ...rest } = record;
  expect(auditRecordHash({ ...rest, seq: chainSeq })).toBe(hash);
  expect(JSON.stringify(record)).not.toMatch(/kws1\./);
}

describe.each(dialects)('rekey on %s', (dialect) => {
  it('file → file: a new root.key, every KEK, webhook and TOTP secret rewrapped, the old key gone, the server starts, audited', async () => {
    const { dir, store, keks } = await initialized(dialect);
    const before = readFileSync(join(dir, 'root.key'));
    const report = await rekeySeal(run(store, dir, 'file', { kind: 'file' }));
    expect(report.resumed).toBe(false);
    expect(report.rewrapped).toBe(4);
    const after = readFileSync(join(dir, 'root.key'));
    expect(after.equals(before)).toBe(false);
    expect(existsSync(join(dir, 'root.key.new'))).toBe(false);
    const old = new FileSeal({ path: join(dir, 'old.key') });
    // The old key no longer opens anything: rebuild it as a file and try.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'old.key'), before, { mode: 0o600 });
    await old.open();
    const stored = await store.getKek('payments');
    await expect(old.unwrap(stored?.wrapped as Uint8Array, kekAad('payments', 1))).rejects.toThrow();
    const seal = await openSeal('file', store, dir, {}, silent);
    await expectKeks(store, seal, keks);
    expect(await store.getMeta(REKEY_META)).toBeNull();
    await expectAuditedRekey(store);
    seal.seal();
    await store.close();
  });

  it('a crash after the commit leaves a marker the server refuses to start on; a re-run finishes and the server starts', async () => {
    const { dir, store, keks } = await initialized(dialect);
    const crash = async () => {
      throw new Error('simulated crash after the commit');
    };
    await expect(rekeySeal(run(store, dir, 'file', { kind: 'file' }, { afterCommit: crash }))).rejects.toThrow('simulated crash');
    expect(existsSync(join(dir, 'root.key.new'))).toBe(true);
    await expect(openSeal('file', store, dir, {}, silent)).rejects.toThrow(/rekey was committed but not finished/);
    const resumed = await rekeySeal(run(store, dir, 'file', { kind: 'file' }));
    expect(resumed.resumed).toBe(true);
    expect(existsSync(join(dir, 'root.key.new'))).toBe(false);
    const seal = await openSeal('file', store, dir, {}, silent);
    await expectKeks(store, seal, keks);
    seal.seal();
    await store.close();
  });

  it('a failure before the commit changes nothing: the old root still opens every KEK', async () => {
    const { dir, store, keks } = await initialized(dialect);
    const fail = async () => {
      throw new Error('simulated failure before the commit');
    };
    await expect(rekeySeal(run(store, dir, 'file', { kind: 'file' }, { beforeCommit: fail }))).rejects.toThrow('before the commit');
    expect(existsSync(join(dir, 'root.key.new'))).toBe(false);
    expect(await store.listAuditChain('rekey-test', 0, 10)).toEqual([]);
    const seal = await openSeal('file', store, dir, {}, silent);
    await expectKeks(store, seal, keks);
    seal.seal();
    await store.close();
  });

  it('file → shamir → shamir: new shares unseal, the old ones do not, root.key is removed', async () => {
    const { dir, store, keks } = await initialized(dialect);
    let first: string[] = [];
    await rekeySeal(run(store, dir, 'file', { kind: 'shamir', shares: 3, threshold: 2 }, { showShares: (s) => (first = s) }));
    expect(first).toHaveLength(3);
    expect(existsSync(join(dir, 'root.key'))).toBe(false);
    let second: string[] = [];
    await rekeySeal(
      run(
        store,
        dir,
        'shamir',
        { kind: 'shamir', shares: 3, threshold: 2 },
        { shares: first.slice(0, 2), showShares: (s) => (second = s) },
      ),
    );
    const seal = (await openSeal('shamir', store, dir, {}, silent)) as ShamirSeal;
    await seal.submitShare(first[0] as string);
    await expect(seal.submitShare(first[1] as string)).rejects.toThrow(/do not reconstruct/);
    await seal.submitShare(second[1] as string);
    await seal.submitShare(second[2] as string);
    expect(seal.status().sealed).toBe(false);
    await expectKeks(store, seal, keks);
    seal.seal();
    await store.close();
  });
});
