import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptoError } from '@keyward/crypto';
import { AuditLog } from '../../audit/audit-log.js';
import { AuditSecrets } from '../../audit/audit-secrets.js';
import { Keyring } from '../../service/keyring.js';
import type { Store } from '../../store/store.js';
import { FileSeal } from '../file/file-seal.js';
import type { Seal, SealKind } from '../seal.js';
import { newDetachedShamirSeal } from '../shamir/detached-shamir.js';
import { ShamirSeal } from '../shamir/shamir-seal.js';
import { zero } from '../zero.js';
import {
  CHECK_AAD,
  CHECK_PLAINTEXT,
  type NewRoot,
  PKCS11_LABEL_META,
  pendingRekey,
  REKEY_META,
  type RekeyMarker,
  type RootName,
  rewrapUnderNewRoot,
} from './rekey.js';

/** Where the roots live: the data directory (file seal) and the PKCS#11 token (label aside). */
export interface RekeyPlaces {
  dataDir: string;
  pkcs11: { library: string; token: string; readPin: () => Promise<string> } | null;
}

/** What the new root is: a kind, Shamir's parameters, the new PKCS#11 label. */
export type NewRootSpec = { kind: 'file' } | { kind: 'shamir'; shares: number; threshold: number } | { kind: 'pkcs11'; label: string };

const ROOT_FILE = 'root.key';
/** The new file root waits here until the rewrap committed; the name is fixed so a resumed rekey finds it. */
const NEW_ROOT_FILE = 'root.key.new';

function needPkcs11(places: RekeyPlaces): NonNullable<RekeyPlaces['pkcs11']> {
  if (places.pkcs11 === null) throw new Error('the pkcs11 seal needs --pkcs11-library, --pkcs11-token and the PIN');
  return places.pkcs11;
}

async function pkcs11Seal(places: RekeyPlaces, label: string) {
  const token = needPkcs11(places);
  // Imported here, so a rekey between software seals never loads the native binding.
  const { Pkcs11Seal } = await import('../pkcs11/pkcs11-seal.js');
  return new Pkcs11Seal({ library: token.library, token: token.token, keyLabel: label, readPin: token.readPin });
}

/**
 * Opens the seal in use and unseals it: the file, the Shamir state with the
 * custodians' `shares`, or the PKCS#11 key named by the database's recorded
 * label (else `configuredLabel`). Throws with one line when it cannot.
 */
export async function openCurrentRoot(
  kind: SealKind,
  store: Store,
  places: RekeyPlaces,
  options: { shares: readonly string[]; configuredLabel: string },
): Promise<{ seal: Seal; name: RootName }> {
  if (kind === 'file') {
    const seal = new FileSeal({ path: join(places.dataDir, ROOT_FILE) });
    await seal.open();
    if (!seal.status().initialized) throw new Error(`${join(places.dataDir, ROOT_FILE)} is missing: nothing to rekey`);
    return { seal, name: { kind } };
  }
  if (kind === 'shamir') {
    const seal = new ShamirSeal({ state: { read: () => store.getMeta('seal.shamir'), create: async () => false } });
    await seal.open();
    if (!seal.status().initialized) throw new Error('the database holds no Shamir seal state: nothing to rekey');
    for (const share of options.shares) {
      if (!seal.status().sealed) break;
      await seal.submitShare(share);
    }
    if (seal.status().sealed) throw new Error(`the shares given unseal nothing yet: ${seal.status().threshold} are needed`);
    return { seal, name: { kind } };
  }
  const label = (await store.getMeta(PKCS11_LABEL_META)) ?? options.configuredLabel;
  const seal = await pkcs11Seal(places, label);
  await seal.open();
  if (!seal.status().initialized) throw new Error(`token '${needPkcs11(places).token}' holds no key labelled '${label}': nothing to rekey`);
  return { seal, name: { kind, label } };
}

/** Makes the new root, initialized and unsealed, out of the way of the one in use. */
export async function makeNewRoot(spec: NewRootSpec, places: RekeyPlaces): Promise<NewRoot> {
  switch (spec.kind) {
    case 'file': {
      const path = join(places.dataDir, NEW_ROOT_FILE);
      // No marker, so no committed rewrap names this file: a leftover of an interrupted attempt, never used.
      await rm(path, { force: true });
      const seal = new FileSeal({ path });
      await seal.init();
      return {
        seal,
        name: { kind: 'file' },
        shares: null,
        metaRows: () => [],
        abort: async () => {
          seal.seal();
          await rm(path, { force: true });
        },
      };
    }
    case 'shamir': {
      const { seal, shares, state } = await newDetachedShamirSeal(spec.shares, spec.threshold);
      return {
        seal,
        name: { kind: 'shamir' },
        shares,
        metaRows: () => {
          const value = state();
          return value === null ? [] : [['seal.shamir', value]];
        },
        abort: async () => seal.seal(),
      };
    }
    case 'pkcs11': {
      const seal = await pkcs11Seal(places, spec.label);
      await seal.init();
      return {
        seal,
        name: { kind: 'pkcs11', label: spec.label },
        shares: null,
        metaRows: () => [[PKCS11_LABEL_META, spec.label]],
        abort: () => seal.destroy(),
      };
    }
  }
}

/**
 * Finishes a committed rekey; safe to run again after a crash at any step.
 * 1. New file root: the old root.key is overwritten in place, then
 *    root.key.new (checked against the marker) renamed over it.
 * 2. Old file root, new root elsewhere: root.key overwritten and removed.
 * 3. Old PKCS#11 root: its object destroyed in the token.
 * 4. The marker removed: the server starts again.
 */
export async function finishRekey(store: Store, marker: RekeyMarker, places: RekeyPlaces): Promise<void> {
  const rootPath = join(places.dataDir, ROOT_FILE);
  const newPath = join(places.dataDir, NEW_ROOT_FILE);
  if (marker.to.kind === 'file') {
    if (await exists(newPath)) {
      if (!(await holdsNewRoot(newPath, marker))) throw new Error(`${newPath} does not hold the new root key; restore the data directory`);
      if (await exists(rootPath)) await overwrite(rootPath);
      await rename(newPath, rootPath);
      await syncDir(places.dataDir);
    } else if (!(await holdsNewRoot(rootPath, marker))) {
      throw new Error(`neither ${rootPath} nor ${newPath} holds the new root key; restore the data directory`);
    }
  } else if (marker.from.kind === 'file' && (await exists(rootPath))) {
    await overwrite(rootPath);
    await rm(rootPath);
    await syncDir(places.dataDir);
  }
  if (marker.from.kind === 'pkcs11' && marker.from.label !== undefined && marker.from.label !== marker.to.label) {
    const old = await pkcs11Seal(places, marker.from.label);
    await old.destroy();
  }
  await store.deleteMeta(REKEY_META);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function holdsNewRoot(path: string, marker: RekeyMarker): Promise<boolean> {
  const seal = new FileSeal({ path });
  try {
    await seal.open();
    if (!seal.status().initialized) return false;
    const plain = await seal.unwrap(Buffer.from(marker.check, 'base64'), CHECK_AAD);
    const same = Buffer.from(plain).equals(Buffer.from(CHECK_PLAINTEXT));
    zero(plain);
    return same;
  } catch (error) {
    if (error instanceof CryptoError) return false;
    throw error;
  } finally {
    seal.seal();
  }
}

/**
 * Overwrites a key file with zeros and syncs it before it is replaced or
 * removed. On copy-on-write or journaling file systems and SSDs the old
 * blocks may survive (docs/operations.md says so); this removes the easy copy.
 */
async function overwrite(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    await handle.write(new Uint8Array(size), 0, size, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface RekeyRun {
  store: Store;
  places: RekeyPlaces;
  current: SealKind;
  next: NewRootSpec;
  /** The custodians' shares when the current seal is Shamir (read from stdin, never argv). */
  shares: readonly string[];
  configuredLabel: string;
  /** The audit chain the `seal.rekey` record joins (the node id). */
  auditNode: string;
  actor: string;
  now: Date;
  /** Shows the new unseal shares; called before the commit, so a crash after it loses no share. */
  showShares: (shares: string[]) => void;
  /** Test seams: inside the rewrap transaction before commit, and after the commit before the old root is touched. */
  beforeCommit?: () => Promise<void>;
  afterCommit?: () => Promise<void>;
}

export interface RekeyReport {
  /** True when this run only finished a rekey committed earlier. */
  resumed: boolean;
  rewrapped: number | null;
  marker: RekeyMarker;
}

/**
 * Rekeys (or migrates) the seal offline: finishes a committed rekey when one
 * is pending; otherwise opens the current root, makes the new one, rewraps
 * everything in one transaction ({@link rewrapUnderNewRoot}) and finishes
 * ({@link finishRekey}). See docs/operations.md, "Rekeying the root key".
 */
export async function rekeySeal(run: RekeyRun): Promise<RekeyReport> {
  const pending = await pendingRekey(run.store);
  if (pending !== null) {
    await finishRekey(run.store, pending, run.places);
    return { resumed: true, rewrapped: null, marker: pending };
  }
  const current = await openCurrentRoot(run.current, run.store, run.places, { shares: run.shares, configuredLabel: run.configuredLabel });
  try {
    if (run.next.kind === 'pkcs11' && current.name.kind === 'pkcs11' && run.next.label === current.name.label) {
      throw new Error(`the new PKCS#11 key needs a label other than '${run.next.label}' (--new-pkcs11-key-label)`);
    }
    const next = await makeNewRoot(run.next, run.places);
    try {
      if (next.shares !== null) run.showShares(next.shares);
      // The record holds no sensitive value, so the audit salt is never needed (isSealed: nothing is loaded).
      const secrets = new AuditSecrets({ store: run.store, keyring: new Keyring(current.seal), isSealed: () => true });
      const audit = new AuditLog({ store: run.store, node: run.auditNode, clock: { now: () => run.now }, secrets });
      const options = { store: run.store, from: current, to: next, audit, actor: run.actor, now: run.now };
      const rewrapped = await rewrapUnderNewRoot(run.beforeCommit === undefined ? options : { ...options, beforeCommit: run.beforeCommit });
      const marker = await pendingRekey(run.store);
      if (marker === null) throw new Error('the rekey marker vanished after the commit');
      next.seal.seal();
      current.seal.seal();
      await run.afterCommit?.();
      await finishRekey(run.store, marker, run.places);
      return { resumed: false, rewrapped, marker };
    } finally {
      next.seal.seal();
    }
  } finally {
    current.seal.seal();
  }
}
