import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryOutcome } from '../events/webhook-dispatcher.js';
import type { SchedulerRun } from '../scheduler/scheduler.js';
import { LATENCY_BUCKETS } from './http-metrics.js';
import { present } from './label-cache.js';

/** A scheduler pass over 500 keys on a slow store takes seconds; a quiet one, milliseconds. */
const RUN_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60];
const RUN_OUTCOMES = ['leader', 'standby', 'error'] as const;
const STEP_ACTIONS = ['key.rotate', 'version.activate', 'version.deactivate', 'key.destroy'] as const;
const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ['delivered', 'http_error', 'network_error', 'timeout'];

/** The background jobs: the life-cycle scheduler and webhook delivery. */
export class JobMetrics {
  readonly #runs = new Map<string, Counter.Internal>();
  readonly #runDuration: Histogram;
  readonly #steps: Counter;
  readonly #stepFailures: Counter;
  readonly #lastSuccess: Gauge;
  readonly #attempts = new Map<string, Counter.Internal>();
  readonly #deliveryDuration: Histogram;
  readonly #abandoned: Counter;
  readonly #dispatchErrors: Counter;
  readonly #backupRuns: Counter;
  readonly #backupLastSuccess: Gauge;
  readonly #backupBytes: Gauge;
  readonly #backupVerifyRuns: Counter;
  readonly #backupLastVerified: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const runs = new Counter({
      name: 'keyward_scheduler_runs_total',
      help: 'Scheduler passes by outcome: leader (this node did the work), standby (another node holds the lock), error (the pass failed).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of RUN_OUTCOMES) this.#runs.set(outcome, present(runs.labels(outcome)));
    this.#runDuration = new Histogram({
      name: 'keyward_scheduler_run_duration_seconds',
      help: 'Duration of scheduler passes.',
      buckets: RUN_BUCKETS,
      registers,
    });
    this.#steps = new Counter({
      name: 'keyward_scheduler_steps_total',
      help: 'Life-cycle steps the scheduler committed, by action (key.rotate, version.activate, version.deactivate, key.destroy).',
      labelNames: ['action'],
      registers,
    });
    for (const action of STEP_ACTIONS) this.#steps.inc({ action }, 0);
    this.#stepFailures = new Counter({
      name: 'keyward_scheduler_step_failures_total',
      help: 'Scheduler steps that failed (each is retried on the next pass; the server log names the error class).',
      registers,
    });
    this.#backupRuns = new Counter({
      name: 'keyward_backup_scheduled_runs_total',
      help: 'Scheduled backups that were due, by outcome: success (written, read back, old archives pruned) or error (the server log says why).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['success', 'error']) this.#backupRuns.inc({ outcome }, 0);
    this.#backupLastSuccess = new Gauge({
      name: 'keyward_backup_last_success_timestamp_seconds',
      help: 'Unix time of the last successful scheduled backup written by this node (0: never).',
      registers,
    });
    this.#backupBytes = new Gauge({
      name: 'keyward_backup_last_bytes',
      help: 'Size in bytes of the last successful scheduled backup written by this node.',
      registers,
    });
    this.#backupVerifyRuns = new Counter({
      name: 'keyward_backup_verify_runs_total',
      help: 'Restore drills after scheduled backups (policy backups.verify), by outcome: success (every key version matched its known answer, the audit chains their heads) or error.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['success', 'error']) this.#backupVerifyRuns.inc({ outcome }, 0);
    this.#backupLastVerified = new Gauge({
      name: 'keyward_backup_last_verified_timestamp_seconds',
      help: 'Unix time of the last scheduled backup whose restore drill passed on this node (0: never).',
      registers,
    });
    this.#lastSuccess = new Gauge({
      name: 'keyward_scheduler_last_success_timestamp_seconds',
      help: 'Unix time at which this node last completed a scheduler pass as leader (0: never).',
      registers,
    });
    const attempts = new Counter({
      name: 'keyward_webhook_delivery_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered (2xx), http_error (another status), network_error, timeout.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of DELIVERY_OUTCOMES) this.#attempts.set(outcome, present(attempts.labels(outcome)));
    this.#deliveryDuration = new Histogram({
      name: 'keyward_webhook_delivery_duration_seconds',
      help: 'Duration of webhook delivery attempts (until the answer status, or the failure).',
      buckets: [...LATENCY_BUCKETS],
      registers,
    });
    this.#abandoned = new Counter({
      name: 'keyward_webhook_events_abandoned_total',
      help: 'Events given up on after the last attempt (the webhook is then marked failing).',
      registers,
    });
    this.#dispatchErrors = new Counter({
      name: 'keyward_webhook_dispatch_errors_total',
      help: 'Webhook delivery runs that failed outside an attempt (store unavailable, a signing secret that fails its integrity check).',
      registers,
    });
  }

  /** The scheduler's observer: a finished pass, or null when the pass threw. */
  /** A scheduled backup that was due: its outcome, size and time. */
  backupRun(outcome: 'success' | 'error', bytes: number, at: Date): void {
    this.#backupRuns.inc({ outcome });
    if (outcome !== 'success') return;
    this.#backupLastSuccess.set(at.getTime() / 1000);
    this.#backupBytes.set(bytes);
  }

  /** The restore drill after a scheduled backup: its outcome and the pass's time. */
  backupVerify(outcome: 'success' | 'error', at: Date): void {
    this.#backupVerifyRuns.inc({ outcome });
    if (outcome === 'success') this.#backupLastVerified.set(at.getTime() / 1000);
  }

  schedulerRun(run: SchedulerRun | null, seconds: number): void {
    this.#runDuration.observe(seconds);
    if (run === null) {
      this.#runs.get('error')?.inc();
      return;
    }
    this.#runs.get(run.leader ? 'leader' : 'standby')?.inc();
    for (const [action, count] of Object.entries(run.steps)) this.#steps.inc({ action }, count);
    if (run.failures > 0) this.#stepFailures.inc(run.failures);
    if (run.leader) this.#lastSuccess.setToCurrentTime();
  }

  /** The dispatcher's observer: one attempt, and whether it was the last one for its event. */
  deliveryAttempt(outcome: DeliveryOutcome, seconds: number, abandoned: boolean): void {
    this.#attempts.get(outcome)?.inc();
    this.#deliveryDuration.observe(seconds);
    if (abandoned) this.#abandoned.inc();
  }

  /** An error the dispatcher reported through its onError path. */
  dispatchError(): void {
    this.#dispatchErrors.inc();
  }
}
