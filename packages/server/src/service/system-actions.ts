import type { AuditLog } from '../audit/audit-log.js';
import { nextCheckAt } from '../keys/schedule-rules.js';
import type { KeyEvent, KeyRecord, VersionRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import type { Clock } from './clock.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { type Lifecycle, type Outcome, writeOutcome } from './lifecycle.js';

/** The actor named in audit records of changes Keyward makes on its own (scheduler, use limits). */
export const SYSTEM_ACTOR = 'keyward';

export type SystemStep = (
  key: KeyRecord,
  versions: VersionRecord[],
  tx: StoreOps,
  now: Date,
) => Promise<{ action: string; outcome: Outcome; details: Record<string, string | number | boolean | null> } | null>;

/** Told of the events of a committed life-cycle change (after the commit, so never of one rolled back). */
export type CommittedListener = (events: readonly KeyEvent[]) => void;

/**
 * Life-cycle changes nobody requested over HTTP: the scheduler's jobs and
 * rotation when a version reaches its use limit. Each is one transaction
 * with its own audit record (actor `keyward`), re-reading the key inside the
 * transaction so that a step already done by another node is not done twice.
 */
export class SystemActions {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #directory: KeyDirectory;
  readonly #keyring: Keyring;
  readonly #lifecycle: Lifecycle;
  readonly #committed: CommittedListener;

  constructor(deps: {
    store: Store;
    audit: AuditLog;
    clock: Clock;
    directory: KeyDirectory;
    keyring: Keyring;
    /** Runs the steps' transactions (a rotation of an hsm RSA key generates its pair before its transaction). */
    lifecycle: Lifecycle;
    onCommitted?: CommittedListener;
  }) {
    this.#committed = deps.onCommitted ?? (() => {});
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#directory = deps.directory;
    this.#keyring = deps.keyring;
    this.#lifecycle = deps.lifecycle;
  }

  get now(): Date {
    return this.#clock.now();
  }

  /** Applies `step` to the key with id `keyId`; returns the step's action name, or null when there was nothing to do. */
  async apply(keyId: string, step: SystemStep, requestId: string): Promise<string | null> {
    const now = this.#clock.now();
    const done = await this.#lifecycle.transaction(this.#store, async (tx) => {
      const key = await tx.lockKeyById(keyId);
      if (key === null) return null;
      const versions = await tx.getVersions(key.id);
      const planned = await step(key, versions, tx, now);
      if (planned === null) {
        // Nothing due after all (e.g. done by another node): store when to look again.
        const next = nextCheckAt(key, versions);
        if (next !== key.nextCheckAt) await tx.updateKey({ ...key, nextCheckAt: next });
        return null;
      }
      const written = await writeOutcome(tx, planned.outcome, now);
      const version = planned.outcome.created[0]?.version ?? planned.outcome.changed[0]?.version ?? null;
      await this.#audit.recordIn(tx, {
        time: now.toISOString(),
        actor: SYSTEM_ACTOR,
        action: planned.action,
        namespace: written.namespace,
        key: written.name,
        keyVersion: version,
        outcome: 'success',
        errorCode: null,
        requestId,
        source: 'scheduler',
        details: planned.details,
      });
      return { key: written, action: planned.action, events: planned.outcome.events };
    });
    if (done === null) return null;
    this.#committed(done.events);
    this.#directory.forget(done.key.namespace, done.key.name);
    this.#keyring.forgetKey(done.key.id);
    return done.action;
  }
}
