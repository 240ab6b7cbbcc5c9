import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { zero } from '../seal/zero.js';
import { isWorkerMessage, type PeerEvent, type PrimaryMessage, SLOT_ENV, type WorkerMessage } from './messages.js';
import { RestartBrake } from './restart-brake.js';
import { mergeExpositions } from './worker-metrics.js';

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** Whether the seal was initialized when the primary checked it (a Shamir init is then refused on every worker). */
  initialized: boolean;
  /** A worker that has not applied a relayed event after this long is killed (and replaced): it might serve stale state. */
  applyTimeoutMs?: number;
  /** Unexpected exits tolerated per window before the server gives up (exit 1). */
  restarts?: { limit: number; windowMs: number };
}

const DEFAULT_APPLY_TIMEOUT_MS = 10_000;
const DEFAULT_RESTARTS = Object.freeze({ limit: 5, windowMs: 60_000 });
/** A scrape answers with the workers that sent their metrics by then (Prometheus' default scrape timeout is 10 s). */
const COLLECT_TIMEOUT_MS = 5_000;

interface Slot {
  readonly index: number;
  worker: Worker | null;
  /** Why its current worker could not start, as it reported. */
  failure: string | null;
  /** Its current worker listens for events (before that it has nothing to drop, and events sent to it would be lost). */
  listening: boolean;
  /** Its current worker serves (it handles signals from then on). */
  ready: boolean;
  /** A SIGHUP came while it was starting: passed on once it serves. */
  hup: boolean;
}

interface Collecting {
  /** Ids of the workers that have yet to send their metrics. */
  waiting: Set<number>;
  /** Each worker's exposition, by slot. */
  texts: Map<number, string>;
  done: () => void;
}

interface Pending {
  /** Ids of the workers that have yet to apply the event. */
  waiting: Set<number>;
  done: () => void;
}

/**
 * The primary process of `keyward server --workers N` (node:cluster). It
 * serves nothing itself: it forks N workers that share the listener, relays
 * what one worker tells the others (committed changes, seal steps) and
 * answers the sender once all have applied it, restarts a worker that dies
 * (in the same slot, so it continues its audit chain; worker 1 runs the
 * background jobs on SQLite), and on SIGTERM or SIGINT lets every worker
 * finish its in-flight requests, then exits 0.
 *
 * It keeps the seal's cluster-wide state so a replacement worker starts in
 * it: sealed by an operator, or the unseal shares that unsealed the others
 * (Shamir) — secret bytes held only in memory and zeroed on seal and exit.
 */
export class Primary {
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #applyTimeoutMs: number;
  readonly #brake: RestartBrake;
  readonly #pending = new Map<number, Pending>();
  readonly #collecting = new Map<number, Collecting>();
  #nextEvent = 1;
  /** Slots whose first worker reported serving. */
  readonly #served = new Set<number>();
  /** Every slot has served: from then on an exit is a crash to recover from, not a failed start. */
  #started = false;
  #stopping = false;
  #exitCode = 0;
  /** Sealed by an operator (`POST /v1/sys/seal`), until shares unseal again. */
  #sealed = false;
  /** The shares that brought the workers to their seal state, in order (Shamir). */
  #shares: Buffer[] = [];
  /** Who may initialize the Shamir seal: nobody yet (`free`), one worker (its id), or done. */
  #init: 'free' | 'done' | number;

  constructor(options: PrimaryOptions) {
    this.#log = options.log;
    this.#applyTimeoutMs = options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
    const restarts = options.restarts ?? DEFAULT_RESTARTS;
    this.#brake = new RestartBrake(restarts.limit, restarts.windowMs);
    this.#init = options.initialized ? 'done' : 'free';
    this.#slots = Array.from({ length: options.workers }, (_, i) => ({
      index: i + 1,
      worker: null,
      failure: null,
      listening: false,
      ready: false,
      hup: false,
    }));
  }

  /** Forks the workers and takes over the process's signals. */
  start(): void {
    // V8 serialization: unseal shares travel as bytes the primary can zero, not as strings.
    cluster.setupPrimary({ serialization: 'advanced' });
    process.on('SIGTERM', () => this.#stop('SIGTERM'));
    process.on('SIGINT', () => this.#stop('SIGINT'));
    // Each worker reloads its policy file (docs/alerts.md); one still starting (no handler yet: SIGHUP would end it) once it serves.
    process.on('SIGHUP', () => {
      for (const slot of this.#slots) {
        if (slot.ready) slot.worker?.process.kill('SIGHUP');
        else slot.hup = true;
      }
    });
    this.#log.info({ workers: this.#slots.length }, 'starting workers');
    for (const slot of this.#slots) this.#fork(slot);
  }

  #fork(slot: Slot): void {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot.index) });
    slot.worker = worker;
    slot.failure = null;
    slot.listening = false;
    slot.ready = false;
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.#receive(slot, worker, message);
    });
    worker.on('exit', (code, signal) => {
      // Messages it sent just before exiting (why it failed) may still be in the channel: read them first.
      if (worker.isConnected()) worker.once('disconnect', () => this.#exited(slot, worker, code, signal));
      else this.#exited(slot, worker, code, signal);
    });
    // A failed send means the channel closed: the exit handler settles what it waited for.
    worker.on('error', () => {});
  }

  #receive(slot: Slot, worker: Worker, message: WorkerMessage): void {
    switch (message.kw) {
      case 'hello':
        if (slot.worker === worker) slot.listening = true;
        return;
      case 'ready':
        if (slot.worker !== worker) return;
        slot.ready = true;
        if (slot.hup) worker.process.kill('SIGHUP');
        slot.hup = false;
        if (this.#started) return;
        this.#served.add(slot.index);
        if (this.#served.size === this.#slots.length) {
          this.#started = true;
          this.#log.info({ workers: this.#slots.length }, 'all workers serving');
        }
        return;
      case 'failed':
        slot.failure = message.message;
        return;
      case 'applied':
        this.#settle(message.id, worker.id);
        return;
      case 'metrics': {
        const collecting = this.#collecting.get(message.id);
        if (collecting?.waiting.delete(worker.id)) collecting.texts.set(slot.index, message.text);
        if (collecting?.waiting.size === 0) collecting.done();
        return;
      }
      case 'request':
        void this.#answer(worker, message).then(
          (value) => this.#send(worker, { kw: 'answer', id: message.id, value }),
          (error: unknown) => this.#log.error({ err: { type: (error as Error).name } }, 'cluster request failed'),
        );
        return;
    }
  }

  async #answer(worker: Worker, request: Extract<WorkerMessage, { kw: 'request' }>): Promise<unknown> {
    switch (request.name) {
      case 'broadcast': {
        if (request.event === undefined) return null;
        this.#remember(request.event);
        await this.#cast(request.event, this.#others(worker));
        // This copy of a share is no longer needed (#remember kept its own).
        if (request.event.type === 'share') zero(request.event.share);
        if (request.event.type === 'initialized') for (const share of request.event.shares) zero(share);
        return null;
      }
      case 'claim-init':
        if (this.#init !== 'free') return false;
        this.#init = worker.id;
        return true;
      case 'release-init':
        if (this.#init === worker.id) this.#init = 'free';
        return null;
      case 'join':
        await this.#cast({ type: 'state', sealed: this.#sealed, shares: this.#shares }, [worker]);
        return null;
      case 'metrics':
        return this.#metrics();
    }
  }

  /** Every serving worker's metrics, merged (a worker that does not answer in time is left out of this scrape). */
  async #metrics(): Promise<string> {
    const targets: Worker[] = [];
    for (const slot of this.#slots) if (slot.ready && slot.worker?.isConnected()) targets.push(slot.worker);
    const texts = await new Promise<Map<number, string>>((resolve) => {
      const id = this.#nextEvent++;
      const collecting: Collecting = {
        waiting: new Set(targets.map((w) => w.id)),
        texts: new Map(),
        done: () => {
          clearTimeout(timer);
          this.#collecting.delete(id);
          resolve(collecting.texts);
        },
      };
      const timer = setTimeout(collecting.done, COLLECT_TIMEOUT_MS);
      this.#collecting.set(id, collecting);
      for (const worker of targets) if (!this.#send(worker, { kw: 'collect', id })) collecting.waiting.delete(worker.id);
      if (collecting.waiting.size === 0) collecting.done();
    });
    return mergeExpositions([...texts.entries()].sort(([a], [b]) => a - b).map(([, text]) => text));
  }

  /** Keeps what a worker that starts later needs to be in the same seal state as the others. */
  #remember(event: PeerEvent): void {
    switch (event.type) {
      case 'sealed':
        this.#forgetShares();
        this.#sealed = true;
        return;
      case 'initialized':
        this.#forgetShares();
        this.#shares = event.shares.map((s) => Buffer.from(s));
        this.#sealed = false;
        this.#init = 'done';
        return;
      case 'share': {
        this.#sealed = false;
        if (event.reset) this.#forgetShares();
        else if (!this.#shares.some((s) => s.equals(event.share))) this.#shares.push(Buffer.from(event.share));
        return;
      }
      default:
        return;
    }
  }

  #forgetShares(): void {
    for (const share of this.#shares) zero(share);
    this.#shares = [];
  }

  #others(worker: Worker | null): Worker[] {
    const others: Worker[] = [];
    for (const slot of this.#slots) {
      if (slot.worker !== null && slot.worker !== worker && slot.listening && slot.worker.isConnected()) others.push(slot.worker);
    }
    return others;
  }

  /**
   * Sends `event` to `targets` and resolves once each has applied it or is
   * gone. One that takes longer than the apply timeout is killed: a worker
   * that cannot be shown to have dropped a revoked token must not serve.
   */
  #cast(event: PeerEvent, targets: readonly Worker[]): Promise<void> {
    if (targets.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const id = this.#nextEvent++;
      const waiting = new Set(targets.map((w) => w.id));
      const timer = setTimeout(() => {
        for (const slot of this.#slots) {
          const worker = slot.worker;
          if (worker === null || !waiting.has(worker.id)) continue;
          this.#log.error({ worker: slot.index, event: event.type }, 'worker did not apply a relayed change in time; killing it');
          worker.process.kill('SIGKILL');
        }
      }, this.#applyTimeoutMs);
      this.#pending.set(id, {
        waiting,
        done: () => {
          clearTimeout(timer);
          this.#pending.delete(id);
          resolve();
        },
      });
      for (const worker of targets) {
        if (!this.#send(worker, { kw: 'event', id, event })) this.#settle(id, worker.id);
      }
    });
  }

  #settle(id: number, workerId: number): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    pending.waiting.delete(workerId);
    if (pending.waiting.size === 0) pending.done();
  }

  #send(worker: Worker, message: PrimaryMessage): boolean {
    if (!worker.isConnected()) return false;
    try {
      worker.send(message);
      return true;
    } catch {
      return false;
    }
  }

  #exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, worker.id);
    for (const collecting of [...this.#collecting.values()]) {
      if (collecting.waiting.delete(worker.id) && collecting.waiting.size === 0) collecting.done();
    }
    if (this.#init === worker.id) this.#init = 'free';
    if (slot.worker === worker) {
      slot.worker = null;
      slot.listening = false;
      slot.ready = false;
    }
    if (this.#stopping) {
      // A worker still starting has no handler yet: the SIGTERM or SIGINT that stops the whole group ends it.
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT') this.#exitCode = 1;
      this.#finishIfDone();
      return;
    }
    const how = signal ?? `code ${code}`;
    // It may have committed a change it had not relayed yet: every other worker drops everything it cached.
    void this.#cast({ type: 'reset' }, this.#others(null));
    if (!this.#started) {
      this.#fail(slot.failure ?? `worker ${slot.index} exited during start (${how})`);
    } else if (!this.#brake.allow(Date.now())) {
      const last = slot.failure === null ? how : slot.failure;
      this.#fail(`workers keep exiting (${this.#brake.recent} in a minute; the last, worker ${slot.index}: ${last}); giving up`);
    } else {
      this.#log.error({ worker: slot.index, exit: how }, 'worker exited; starting a replacement');
      this.#fork(slot);
    }
  }

  /** Stops every worker, then exits 1 with `reason` on one line. */
  #fail(reason: string): void {
    if (this.#exitCode === 0) process.stderr.write(`keyward server: ${reason.split('\n')[0]}\n`);
    this.#exitCode = 1;
    this.#stop(null);
  }

  #stop(signal: string | null): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (signal !== null) this.#log.info({ signal }, 'stopping: workers finish their in-flight requests');
    for (const slot of this.#slots)
      if (slot.worker !== null && !this.#send(slot.worker, { kw: 'stop' })) slot.worker.process.kill('SIGTERM');
    this.#finishIfDone();
  }

  #finishIfDone(): void {
    if (this.#slots.some((s) => s.worker !== null)) return;
    this.#forgetShares();
    process.exit(this.#exitCode);
  }
}
