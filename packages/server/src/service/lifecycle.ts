import { fingerprint, getAlgorithm } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { addMs, parseDuration } from '../keys/duration.js';
import { nextCheckAt } from '../keys/schedule-rules.js';
import { assertKeyTransition, assertVersionTransition } from '../keys/transitions.js';
import { zero } from '../seal/zero.js';
import type { EventType, KeyEvent, KeyRecord, RotationTrigger, VersionRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import type { HsmKeys } from './hsm-keys.js';
import type { Keyring } from './keyring.js';
import { TokenVersions } from './token-versions.js';

/** What a life-cycle step changed, to be written in one transaction by {@link writeOutcome}. */
export interface Outcome {
  key: KeyRecord;
  /** Existing versions whose state changed. */
  changed: VersionRecord[];
  /** Versions created (already inserted, with their material). */
  created: VersionRecord[];
  events: KeyEvent[];
  /**
   * Destroys what lives outside the store (token objects of hsm versions);
   * run by {@link writeOutcome} only, so an outcome computed and then held
   * for approval destroys nothing.
   */
  shred?: () => void;
}

type EventData = KeyEvent['data'];

export function event(type: EventType, key: KeyRecord, version: number | null, now: Date, data: EventData = {}): KeyEvent {
  return { type, time: now.toISOString(), namespace: key.namespace, key: key.name, keyId: key.id, version, data };
}

export function nextRotation(period: string | null, from: Date): string | null {
  return period === null ? null : addMs(from, parseDuration('rotationPeriod', period)).toISOString();
}

const latest = (versions: readonly VersionRecord[]): number => Math.max(0, ...versions.map((v) => v.version));

/**
 * The key life cycle as steps over plain records: rotate, activate,
 * deactivate, compromise, destroy. The API (KeyService), the scheduler and
 * use-limit rotation all change keys through here, so every path obeys the
 * same transition table (keys/transitions.ts) and emits the same events.
 */
export class Lifecycle {
  readonly #keyring: Keyring;
  readonly #hsm: HsmKeys;
  readonly #tokenVersions: TokenVersions;

  constructor(keyring: Keyring, hsm: HsmKeys) {
    this.#keyring = keyring;
    this.#hsm = hsm;
    this.#tokenVersions = new TokenVersions(hsm);
  }

  /**
   * `store.transaction(fn)` for changes that may create key versions (a
   * create, a rotation by any trigger, a compromise): a version of an hsm
   * RSA key gets its pair generated in the token before the transaction, so
   * `fn` may run again after a rollback ({@link TokenVersions}). Every such
   * transaction goes through here; an hsm version is refused in any other.
   */
  transaction<T>(store: Store, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.#tokenVersions.transaction(store, fn);
  }

  /**
   * Generates, wraps and inserts version `n`: active at once, or
   * `pre_active` until `activateAt`. For an hsm key, `tx` must come from
   * {@link transaction}.
   */
  async newVersion(
    tx: StoreOps,
    key: KeyRecord,
    n: number,
    trigger: RotationTrigger,
    now: Date,
    activateAt: Date | null,
  ): Promise<VersionRecord> {
    if (key.protection === 'hsm') return this.#newTokenVersion(tx, key, n, trigger, now, activateAt);
    const generated = getAlgorithm(key.algorithm).generate();
    try {
      const { material, kekVersion } = await this.#keyring.wrapMaterial(tx, key, n, generated.secret, now);
      const version = newVersionRecord(
        key,
        n,
        { fingerprint: fingerprint(key.algorithm, generated.secret), publicKey: generated.publicKeyPem, material, kekVersion, trigger },
        now,
        activateAt,
      );
      await tx.insertVersion(version);
      return version;
    } finally {
      zero(generated.secret);
    }
  }

  /** Version `n` of an hsm key: its objects in the token (generated before the transaction for RSA); the record holds their reference. */
  async #newTokenVersion(
    tx: StoreOps,
    key: KeyRecord,
    n: number,
    trigger: RotationTrigger,
    now: Date,
    activateAt: Date | null,
  ): Promise<VersionRecord> {
    const generated = await this.#tokenVersions.take(tx, key, n);
    // Not wrapped under a KEK: kekVersion 0 names none. Objects of a version that does not commit are destroyed by TokenVersions.
    const version = newVersionRecord(key, n, { ...generated, kekVersion: 0, trigger }, now, activateAt);
    await tx.insertVersion(version);
    return version;
  }

  /**
   * Rotates: a new version becomes primary now, or is published `pre_active`
   * until `activateAt` (prepublication; the primary stays until then).
   * Older versions stay as they are, so nothing that depends on them breaks.
   */
  async rotate(
    tx: StoreOps,
    key: KeyRecord,
    versions: readonly VersionRecord[],
    trigger: RotationTrigger,
    now: Date,
    activateAt: Date | null = null,
  ): Promise<Outcome> {
    this.assertRotatable(key);
    const scheduled = versions.find((v) => v.state === 'pre_active');
    if (activateAt !== null && scheduled !== undefined) {
      throw new KeywardError('invalid_state', `key '${key.name}' already has version ${scheduled.version} waiting to activate`);
    }
    const n = latest(versions) + 1;
    const created = await this.newVersion(tx, key, n, trigger, now, activateAt);
    if (created.state === 'pre_active') {
      return {
        key,
        changed: [],
        created: [created],
        events: [event('version.state_changed', key, n, now, { state: 'pre_active', activateAt: created.activateAt, trigger })],
      };
    }
    // A version waiting to activate is overtaken by a rotation that activates now.
    const changed: VersionRecord[] = [];
    const rotated: KeyRecord = { ...key, primaryVersion: n, nextRotationAt: nextRotation(key.rotationPeriod, now) };
    return {
      key: rotated,
      changed,
      created: [created],
      events: [event('key.rotated', rotated, n, now, { trigger, previousVersion: key.primaryVersion })],
    };
  }

  /**
   * BYOK import (docs/transit.md): version `latest + 1` with the caller's
   * `secret` (already checked for the algorithm's size) becomes primary and
   * active now, as a rotation would, with trigger `import`.
   */
  async importVersion(tx: StoreOps, key: KeyRecord, versions: readonly VersionRecord[], secret: Uint8Array, now: Date): Promise<Outcome> {
    this.assertRotatable(key);
    const n = latest(versions) + 1;
    const { material, kekVersion } = await this.#keyring.wrapMaterial(tx, key, n, secret, now);
    const version = newVersionRecord(
      key,
      n,
      { fingerprint: fingerprint(key.algorithm, secret), publicKey: null, material, kekVersion, trigger: 'import' },
      now,
      null,
    );
    await tx.insertVersion(version);
    const rotated: KeyRecord = { ...key, primaryVersion: n, nextRotationAt: nextRotation(key.rotationPeriod, now) };
    return {
      key: rotated,
      changed: [],
      created: [version],
      events: [event('key.rotated', rotated, n, now, { trigger: 'import', previousVersion: key.primaryVersion })],
    };
  }

  /** Only an enabled or disabled key can rotate; a key pending deletion or destroyed cannot. */
  assertRotatable(key: KeyRecord): void {
    if (key.state !== 'enabled' && key.state !== 'disabled') {
      throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot rotate`);
    }
  }

  /** A `pre_active` version reaches its activation time: it becomes active and, if newest, primary. */
  activate(key: KeyRecord, version: VersionRecord, now: Date): Outcome {
    assertVersionTransition(key.name, version.version, version.state, 'active');
    const active: VersionRecord = { ...version, state: 'active', activatedAt: now.toISOString(), activateAt: null };
    const events = [event('version.state_changed', key, version.version, now, { state: 'active' })];
    if (version.version < key.primaryVersion || key.state === 'pending_deletion' || key.state === 'destroyed') {
      return { key, changed: [active], created: [], events };
    }
    const rotated: KeyRecord = { ...key, primaryVersion: version.version, nextRotationAt: nextRotation(key.rotationPeriod, now) };
    events.push(event('key.rotated', rotated, version.version, now, { trigger: version.trigger, previousVersion: key.primaryVersion }));
    return { key: rotated, changed: [active], created: [], events };
  }

  /** Ends a version's originator usage: it decrypts and verifies but never encrypts or signs again. */
  deactivate(key: KeyRecord, version: VersionRecord, now: Date): Outcome {
    if (version.version === key.primaryVersion) {
      throw new KeywardError(
        'invalid_state',
        `key version ${version.version} of '${key.name}' is the primary version; rotate before deactivating it`,
      );
    }
    assertVersionTransition(key.name, version.version, version.state, 'deactivated');
    const changed = { ...version, state: 'deactivated' as const, deactivatedAt: now.toISOString() };
    return {
      key,
      changed: [changed],
      created: [],
      events: [event('version.state_changed', key, version.version, now, { state: 'deactivated' })],
    };
  }

  /** Declares a version compromised; a compromised primary is replaced at once (trigger `event`). */
  async compromise(
    tx: StoreOps,
    key: KeyRecord,
    versions: readonly VersionRecord[],
    version: VersionRecord,
    now: Date,
    reason: string,
  ): Promise<Outcome> {
    assertVersionTransition(key.name, version.version, version.state, 'compromised');
    const compromised: VersionRecord = { ...version, state: 'compromised', compromisedAt: now.toISOString(), activateAt: null };
    const events = [event('version.compromised', key, version.version, now, { reason })];
    const outcome: Outcome = { key, changed: [compromised], created: [], events };
    if (version.version !== key.primaryVersion || (key.state !== 'enabled' && key.state !== 'disabled')) return outcome;
    const others = versions.map((v) => (v.version === version.version ? compromised : v));
    const rotated = await this.rotate(tx, key, others, 'event', now);
    return { key: rotated.key, changed: [compromised], created: rotated.created, events: [...events, ...rotated.events] };
  }

  /** Erases one version's material (crypto-shredding). Never the primary version. */
  destroyVersion(key: KeyRecord, version: VersionRecord, now: Date): Outcome {
    if (version.version === key.primaryVersion && key.state !== 'pending_deletion') {
      throw new KeywardError(
        'invalid_state',
        `key version ${version.version} of '${key.name}' is the primary version and cannot be destroyed`,
      );
    }
    const target = version.state === 'compromised' ? 'destroyed_compromised' : 'destroyed';
    assertVersionTransition(key.name, version.version, version.state, target);
    const destroyed: VersionRecord = { ...version, state: target, destroyedAt: now.toISOString(), material: null, activateAt: null };
    return {
      key,
      changed: [destroyed],
      created: [],
      shred: () => this.#hsm.destroy(key, [version]),
      events: [event('version.state_changed', key, version.version, now, { state: target })],
    };
  }

  setEnabled(key: KeyRecord, enabled: boolean, now: Date): Outcome {
    const to = enabled ? 'enabled' : 'disabled';
    if (key.state === to) return { key, changed: [], created: [], events: [] };
    assertKeyTransition(key.name, key.state, to);
    const next: KeyRecord = { ...key, state: to };
    return { key: next, changed: [], created: [], events: [event('key.state_changed', next, null, now, { state: to })] };
  }

  scheduleDeletion(key: KeyRecord, days: number, now: Date): Outcome {
    assertKeyTransition(key.name, key.state, 'pending_deletion');
    const next: KeyRecord = { ...key, state: 'pending_deletion', deletionDate: addMs(now, days * 86_400_000).toISOString() };
    return {
      key: next,
      changed: [],
      created: [],
      events: [event('key.deletion_scheduled', next, null, now, { deletionDate: next.deletionDate, days })],
    };
  }

  cancelDeletion(key: KeyRecord, now: Date): Outcome {
    assertKeyTransition(key.name, key.state, 'disabled');
    if (key.state !== 'pending_deletion')
      throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state}, not pending deletion`);
    const next: KeyRecord = { ...key, state: 'disabled', deletionDate: null };
    return { key: next, changed: [], created: [], events: [event('key.deletion_cancelled', next, null, now)] };
  }

  /**
   * At the end of the deletion window: every version's material is erased
   * from the store (not flagged), the key becomes a `destroyed` tombstone
   * that keeps its metadata for audit and reports.
   */
  destroyKey(key: KeyRecord, versions: readonly VersionRecord[], now: Date): Outcome {
    assertKeyTransition(key.name, key.state, 'destroyed');
    const at = now.toISOString();
    const changed = versions
      .filter((v) => v.material !== null || (v.state !== 'destroyed' && v.state !== 'destroyed_compromised'))
      .map((v): VersionRecord => {
        const compromised = v.state === 'compromised' || v.state === 'destroyed_compromised';
        return {
          ...v,
          state: compromised ? 'destroyed_compromised' : 'destroyed',
          destroyedAt: v.destroyedAt ?? at,
          material: null,
          activateAt: null,
        };
      });
    const next: KeyRecord = { ...key, state: 'destroyed', nextRotationAt: null };
    return {
      key: next,
      changed,
      created: [],
      events: [event('key.destroyed', next, null, now, { versions: changed.length })],
      shred: () =>
        this.#hsm.destroy(
          key,
          versions.filter((v) => v.material !== null),
        ),
    };
  }
}

/**
 * Writes an outcome: changed versions, the key (with when the scheduler must
 * look at it next) and events, inside the caller's transaction.
 */
export async function writeOutcome(tx: StoreOps, outcome: Outcome, now: Date): Promise<KeyRecord> {
  // Before the commit: a crash after it leaves a version that cannot be used, never one thought shredded that still exists.
  outcome.shred?.();
  for (const version of outcome.changed) await tx.updateVersion(version);
  const versions = await tx.getVersions(outcome.key.id);
  const key: KeyRecord = { ...outcome.key, updatedAt: now.toISOString(), nextCheckAt: nextCheckAt(outcome.key, versions) };
  await tx.updateKey(key);
  await tx.appendEvents(outcome.events);
  await tx.announce({ kind: 'key', namespace: key.namespace, name: key.name, id: key.id });
  return key;
}

/**
 * The record of a new version `n` of `key`: active now, or `pre_active`
 * until `activateAt` when that lies ahead; no uses, nothing reserved.
 */
function newVersionRecord(
  key: KeyRecord,
  n: number,
  made: Pick<VersionRecord, 'fingerprint' | 'publicKey' | 'material' | 'kekVersion' | 'trigger'>,
  now: Date,
  activateAt: Date | null,
): VersionRecord {
  const pending = activateAt !== null && activateAt.getTime() > now.getTime();
  return {
    keyId: key.id,
    version: n,
    state: pending ? 'pre_active' : 'active',
    createdAt: now.toISOString(),
    activatedAt: pending ? null : now.toISOString(),
    deactivatedAt: null,
    compromisedAt: null,
    destroyedAt: null,
    uses: 0,
    ...made,
    reserved: 0,
    activateAt: pending ? activateAt.toISOString() : null,
  };
}
