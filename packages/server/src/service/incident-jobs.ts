import { randomUUID } from 'node:crypto';
import { Periodic } from '../scheduler/periodic.js';
import type { IncidentRecord } from '../store/incident-records.js';
import type { Store } from '../store/store.js';
import { recoveryCounts, recoveryView, versionActivity, versionRetired } from './blast-radius.js';
import type { Clock } from './clock.js';
import { type IncidentActor, type IncidentJournal, stepRecord } from './incident-journal.js';
import { event } from './lifecycle.js';
import type { NodePresence } from './node-presence.js';
import { SYSTEM_ACTOR, type SystemActions } from './system-actions.js';

export interface IncidentJobRun {
  /** False when another node holds the scheduler lock: this node only announced itself. */
  leader: boolean;
  /** Incidents whose key's minDecryptionVersion was raised in this run. */
  raised: number;
  /** Incidents whose recovery step was found complete and closed in this run. */
  recovered: number;
  failures: number;
}

const BATCH = 100;

/**
 * The periodic side of incidents, run on every node: announce this node
 * (containment waits for live nodes), then, on the node holding the
 * scheduler lock, raise `minDecryptionVersion` where an incident's grace
 * period has ended and mark recovery steps done once nothing is left to
 * re-encrypt. `main.ts` starts it on an interval; tests call `runOnce()`
 * after moving the clock.
 */
export class IncidentJobs {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #system: SystemActions;
  readonly #presence: NodePresence;
  readonly #journal: IncidentJournal;
  readonly #onError: (error: unknown) => void;
  readonly #periodic: Periodic<IncidentJobRun>;

  constructor(deps: {
    store: Store;
    clock: Clock;
    system: SystemActions;
    presence: NodePresence;
    journal: IncidentJournal;
    onError?: (error: unknown) => void;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#system = deps.system;
    this.#presence = deps.presence;
    this.#journal = deps.journal;
    this.#onError = deps.onError ?? (() => {});
    this.#periodic = new Periodic(() => this.#run(), this.#onError);
  }

  runOnce(): Promise<IncidentJobRun> {
    return this.#periodic.runOnce();
  }

  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  async #run(): Promise<IncidentJobRun> {
    const run: IncidentJobRun = { leader: false, raised: 0, recovered: 0, failures: 0 };
    await this.#presence.heartbeat();
    if (!(await this.#store.isLeader())) return run;
    run.leader = true;
    const actor: IncidentActor = { id: SYSTEM_ACTOR, requestId: `incidents-${randomUUID()}`, source: 'scheduler' };
    for (const incident of await this.#store.incidentsDueForRaise(this.#clock.now().toISOString(), BATCH)) {
      try {
        if (await this.#raise(incident, actor)) run.raised++;
      } catch (error) {
        run.failures++;
        this.#onError(error);
      }
    }
    for (const incident of await this.#store.listOpenIncidents(null, BATCH)) {
      try {
        if (await this.#checkRecovery(incident, actor)) run.recovered++;
      } catch (error) {
        run.failures++;
        this.#onError(error);
      }
    }
    return run;
  }

  /**
   * Raises the key's minDecryptionVersion above the incident's version (a
   * `key.update` by Keyward, one transaction with the step). A raise that
   * cannot be done (the primary version is not above it) is recorded as a
   * failed step and not tried again.
   */
  async #raise(incident: IncidentRecord, actor: IncidentActor): Promise<boolean> {
    const target = incident.version + 1;
    let raised = false;
    await this.#system.apply(
      incident.keyId,
      async (key, _versions, tx, now) => {
        const current = await tx.getIncident(incident.id);
        if (current === null || current.state !== 'open' || current.raiseMinAt === null || current.minRaisedAt !== null) return null;
        const started = new Date(current.raiseMinAt);
        const done = async (state: 'done' | 'skipped' | 'failed', text: string, details = {}) => {
          await this.#journal.record(
            current,
            stepRecord(current, 'raise_min_decryption_version', state, started, now, text, details),
            actor,
            tx,
          );
          await tx.updateIncident(current.id, {
            raiseMinAt: null,
            minRaisedAt: state === 'failed' ? null : now.toISOString(),
            updatedAt: now.toISOString(),
          });
        };
        if (key.minDecryptionVersion >= target) {
          await done(
            'skipped',
            `minDecryptionVersion is already ${key.minDecryptionVersion}: version ${incident.version} no longer decrypts`,
          );
          return null;
        }
        if (target > key.primaryVersion) {
          const text = `cannot raise minDecryptionVersion to ${target}: the primary version is ${key.primaryVersion}; rotate, then set it by hand`;
          await done('failed', text, { errorCode: 'invalid_state' });
          return null;
        }
        const next = { ...key, minDecryptionVersion: target };
        await done(
          'done',
          `minDecryptionVersion raised from ${key.minDecryptionVersion} to ${target}: version ${incident.version} and older no longer decrypt or verify`,
          { from: key.minDecryptionVersion, to: target },
        );
        raised = true;
        return {
          action: 'key.update',
          outcome: {
            key: next,
            changed: [],
            created: [],
            events: [event('key.updated', next, null, now, { fields: 'minDecryptionVersion' })],
          },
          details: { fields: 'minDecryptionVersion', minDecryptionVersion: target, incident: incident.id, trigger: 'incident' },
        };
      },
      actor.requestId,
    );
    return raised;
  }

  /** Marks a running recovery step done once nothing issued under the version is left (or it no longer decrypts). */
  async #checkRecovery(incident: IncidentRecord, actor: IncidentActor): Promise<boolean> {
    const step = (await this.#store.listIncidentSteps([incident.id])).find((s) => s.name === 'recovery');
    if (step === undefined || step.state !== 'running') return false;
    const key = await this.#store.getKeyById(incident.keyId);
    const versions = key === null ? [] : await this.#store.getVersions(key.id);
    const counts = recoveryCounts(await versionActivity(this.#store, incident, key?.createdAt ?? incident.declaredAt));
    const retired = versionRetired(
      incident,
      key,
      versions.find((v) => v.version === incident.version),
    );
    const view = recoveryView(incident, counts, retired);
    const now = this.#clock.now();
    if (JSON.stringify(counts) !== JSON.stringify(incident.recoverySnapshot)) {
      await this.#store.updateIncident(incident.id, { recoverySnapshot: counts, updatedAt: now.toISOString() });
    }
    if (!view.complete) return false;
    const rewrapped = counts.rewrappedBeforeIncident + counts.rewrappedSinceIncident;
    const issued = counts.ciphertextsIssued + counts.dataKeysIssued;
    const text =
      view.remaining === 0
        ? `complete: ${rewrapped} rewrapped of ${issued} issued under version ${incident.version}`
        : `ended: version ${incident.version} no longer decrypts (${rewrapped} of ${issued} were rewrapped first)`;
    await this.#journal.record(incident, stepRecord(incident, 'recovery', 'done', new Date(step.startedAt), now, text), actor);
    return true;
  }
}
