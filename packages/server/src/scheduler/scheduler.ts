import { randomUUID } from 'node:crypto';
import { type DueStep, dueStep } from '../keys/schedule-rules.js';
import { assertMeetsClass } from '../policy/class-standards.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { Lifecycle, Outcome } from '../service/lifecycle.js';
import type { SystemActions } from '../service/system-actions.js';
import type { Store } from '../store/store.js';
import { Periodic } from './periodic.js';

export interface SchedulerRun {
  /** False when another node holds the scheduler lock and this one did nothing. */
  leader: boolean;
  /** Steps taken, e.g. `{"key.rotate": 3}`. */
  steps: Record<string, number>;
  failures: number;
}

/** Steps one key may take in one run (a key that missed many periods catches up over several runs). */
const MAX_STEPS_PER_KEY = 16;
const BATCH = 500;

/**
 * Runs due life-cycle jobs: destroy keys at the end of their deletion
 * window, activate prepublished versions, prepublish, rotate by time, and
 * deactivate versions whose originator-usage period is over. Every step is
 * its own transaction (a crash leaves the old state or the new one) and
 * idempotent (the step is re-decided inside the transaction). On PostgreSQL
 * only the node holding the scheduler lock runs; time comes from the clock
 * given to SystemActions.
 *
 * A version an operator scheduled (a manual rotation with an activation
 * date) of a key that no longer meets its class standard
 * (docs/governance.md) is not activated: the step fails like any other
 * (counted, reported to `onError`) and is retried on every run until the key
 * is patched into compliance or the policy changes. Rotation by time,
 * prepublished versions included, is never held back: it protects the key.
 */
export class Scheduler {
  readonly #store: Store;
  readonly #system: SystemActions;
  readonly #lifecycle: Lifecycle;
  readonly #policy: PolicySource;
  readonly #onError: (error: unknown) => void;
  readonly #periodic: Periodic<SchedulerRun>;
  readonly #onRun: (run: SchedulerRun | null, seconds: number) => void;

  constructor(deps: {
    store: Store;
    system: SystemActions;
    lifecycle: Lifecycle;
    /** The policy in force, read at each activation (class standards). */
    policy: PolicySource;
    onError?: (error: unknown) => void;
    /** Told of every finished pass and its duration (metrics); `null` when the pass threw. */
    onRun?: (run: SchedulerRun | null, seconds: number) => void;
  }) {
    this.#store = deps.store;
    this.#system = deps.system;
    this.#lifecycle = deps.lifecycle;
    this.#policy = deps.policy;
    this.#onError = deps.onError ?? (() => {});
    this.#onRun = deps.onRun ?? (() => {});
    this.#periodic = new Periodic(() => this.#timed(), this.#onError);
  }

  /** One pass over every key that needs attention now. Concurrent calls share one pass. */
  runOnce(): Promise<SchedulerRun> {
    return this.#periodic.runOnce();
  }

  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  async #timed(): Promise<SchedulerRun> {
    const started = performance.now();
    try {
      const run = await this.#run();
      this.#onRun(run, (performance.now() - started) / 1000);
      return run;
    } catch (error) {
      this.#onRun(null, (performance.now() - started) / 1000);
      throw error;
    }
  }

  async #run(): Promise<SchedulerRun> {
    const run: SchedulerRun = { leader: false, steps: {}, failures: 0 };
    if (!(await this.#store.isLeader())) return run;
    run.leader = true;
    const runId = `scheduler-${randomUUID()}`;
    const keys = await this.#store.keysNeedingAttention(this.#system.now.toISOString(), BATCH);
    for (const key of keys) {
      for (let i = 0; i < MAX_STEPS_PER_KEY; i++) {
        let action: string | null;
        try {
          action = await this.#system.apply(key.id, (k, versions, tx, now) => this.#plan(k, versions, tx, now), runId);
        } catch (error) {
          run.failures++;
          this.#onError(error);
          break;
        }
        if (action === null) break;
        run.steps[action] = (run.steps[action] ?? 0) + 1;
      }
    }
    return run;
  }

  async #plan(...[key, versions, tx, now]: Parameters<Parameters<SystemActions['apply']>[1]>) {
    const step: DueStep | null = dueStep(key, versions, now);
    if (step === null) return null;
    let outcome: Outcome;
    let action: string;
    const details: Record<string, string | number | boolean | null> = {};
    switch (step.kind) {
      case 'destroy-key':
        outcome = this.#lifecycle.destroyKey(key, versions, now);
        action = 'key.destroy';
        break;
      case 'activate':
        // A version an operator scheduled (rotate with activationDate) is checked again when it
        // activates, since the policy may have changed since; one the scheduler prepublished for
        // rotation by time is not, as rotation by time is never held back. Thrown inside the
        // step's transaction: the version stays pre_active and nothing is written.
        if (step.version.trigger === 'manual')
          assertMeetsClass(
            this.#policy.current(),
            key,
            `; version ${step.version.version} of key '${key.name}' (namespace '${key.namespace}') stays pre_active until the key is patched into compliance`,
          );
        outcome = this.#lifecycle.activate(key, step.version, now);
        action = 'version.activate';
        details.trigger = step.version.trigger;
        break;
      case 'prepublish':
        outcome = await this.#lifecycle.rotate(tx, key, versions, 'time', now, step.activateAt);
        action = 'key.rotate';
        details.trigger = 'time';
        details.activationDate = step.activateAt.toISOString();
        break;
      case 'rotate':
        outcome = await this.#lifecycle.rotate(tx, key, versions, 'time', now);
        action = 'key.rotate';
        details.trigger = 'time';
        break;
      case 'deactivate':
        outcome = this.#lifecycle.deactivate(key, step.version, now);
        action = 'version.deactivate';
        details.reason = 'originator-usage period ended';
        break;
    }
    return { action, outcome, details };
  }
}
