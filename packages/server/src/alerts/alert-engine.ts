import type { AuditChainHead } from '@keyward/wire';
import type { PolicySource } from '../policy/policy-file.js';
import { Periodic } from '../scheduler/periodic.js';
import type { Clock } from '../service/clock.js';
import type { AlertCursor, AlertRecord } from '../store/alert-records.js';
import type { KeyEvent, KeyRecord, StoredAuditRecord, VersionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { buildDetectors } from './build-detectors.js';
import { type Detector, type Finding, type KeyLookup, StateMap } from './detector.js';
import { dedupKey, foldFindings, raise, update } from './merge-findings.js';

export interface AlertRun {
  /** False when another node holds the scheduler lock and this one did nothing. */
  leader: boolean;
  /** Audit records read. */
  records: number;
  /** Alerts raised, and unresolved alerts that a repeat added to. */
  raised: number;
  updated: number;
  /** Records read while learning the history that existed before the engine first ran (no alerts from those). */
  learned: number;
}

/** Records read from one chain per step; a run takes steps until it has caught up (or `MAX_STEPS`). */
const BATCH = 2_000;
const MAX_STEPS = 25;
/** Detector state is kept this much longer than its detector needs (clock skew between nodes, late records). */
const PRUNE_MARGIN_MS = 3_600_000;
/** The audit positions that existed when the engine first ran: learned from, never alerted on. */
const LEARN_META = 'alerts.learn-until';

export type RaisedListener = (alert: AlertRecord) => void;

/** The versions (and id) of each key the records of one step name, read once per step. */
class StepKeys implements KeyLookup {
  readonly #keys = new Map<string, { key: KeyRecord; versions: VersionRecord[] } | null>();

  static async load(store: Store, pairs: Iterable<[string, string]>): Promise<StepKeys> {
    const keys = new StepKeys();
    for (const [namespace, name] of pairs) {
      const id = `${namespace}\0${name}`;
      if (keys.#keys.has(id)) continue;
      const key = await store.getKey(namespace, name);
      keys.#keys.set(id, key === null ? null : { key, versions: await store.getVersions(key.id) });
    }
    return keys;
  }

  versions(namespace: string, key: string): readonly VersionRecord[] | null {
    return this.#keys.get(`${namespace}\0${key}`)?.versions ?? null;
  }

  key(namespace: string, key: string): KeyRecord | null {
    return this.#keys.get(`${namespace}\0${key}`)?.key ?? null;
  }
}

/**
 * Reads the audit trail behind the request path and raises anomaly alerts
 * (docs/alerts.md). Detection never slows an operation down: requests only
 * write their audit records, as always.
 *
 * Each run reads every audit chain after its cursor (chain positions never
 * skip, unlike the global sequence on PostgreSQL, where a record can commit
 * after a later-numbered one), merges the records in time order, and feeds
 * them to the detectors the policy enables, with their thresholds as the
 * policy says at the start of the run. Detector state (pairs seen,
 * baselines, recent failure times) lives in the store: one query per
 * detector loads what a step needs, and the step writes the new state, the
 * alerts and the cursors in one transaction, so a crash or a change of
 * leader repeats a step rather than losing or doubling its alerts.
 *
 * On its first run it learns from the history that already exists (pairs
 * seen, baselines) without raising alerts about it. Only the node holding
 * the scheduler lock runs; `main.ts` starts it on an interval, tests call
 * `runOnce()` after moving the clock.
 */
export class AlertEngine {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #policy: PolicySource;
  readonly #periodic: Periodic<AlertRun>;
  readonly #listeners = new Set<RaisedListener>();
  readonly #onError: (error: unknown) => void;

  constructor(deps: { store: Store; clock: Clock; policy: PolicySource; onError?: (error: unknown) => void }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#policy = deps.policy;
    this.#onError = deps.onError ?? (() => {});
    this.#periodic = new Periodic(() => this.#run(), this.#onError);
  }

  /** Calls `listener` with each newly raised alert, after it is committed; returns a function that stops it. */
  onRaised(listener: RaisedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One pass until caught up with the audit trail. Concurrent calls share one pass. */
  runOnce(): Promise<AlertRun> {
    return this.#periodic.runOnce();
  }

  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  async #run(): Promise<AlertRun> {
    const run: AlertRun = { leader: false, records: 0, raised: 0, updated: 0, learned: 0 };
    if (!(await this.#store.isLeader())) return run;
    run.leader = true;
    const detectors = buildDetectors(this.#policy.current().alerts);
    const learnUntil = await this.#learnUntil();
    for (let step = 0; step < MAX_STEPS; step++) {
      const more = await this.#step(detectors, learnUntil, run);
      if (!more) break;
    }
    await this.#prune(detectors);
    return run;
  }

  /** The chain positions of the history to learn from: fixed at the first run, so every later record can alert. */
  async #learnUntil(): Promise<Map<string, number>> {
    let stored = await this.#store.getMeta(LEARN_META);
    if (stored === null) {
      const heads = await this.#store.auditHeads();
      stored = JSON.stringify(heads.map((h) => [h.chain, h.seq]));
      await this.#store.setMeta(LEARN_META, stored);
    }
    return new Map(JSON.parse(stored) as Array<[string, number]>);
  }

  /** Reads the next records of every chain and processes them; true when some chain may have more. */
  async #step(detectors: readonly Detector[], learnUntil: ReadonlyMap<string, number>, run: AlertRun): Promise<boolean> {
    const heads: AuditChainHead[] = await this.#store.auditHeads();
    const cursors = new Map((await this.#store.listAlertCursors()).map((c) => [c.chain, c.chainSeq]));
    const records: StoredAuditRecord[] = [];
    const moved: AlertCursor[] = [];
    let more = false;
    for (const head of heads) {
      const after = cursors.get(head.chain) ?? 0;
      if (head.seq <= after) continue;
      const batch = await this.#store.listAuditChain(head.chain, after, BATCH);
      if (batch.length === 0) continue;
      records.push(...batch);
      moved.push({ chain: head.chain, chainSeq: (batch.at(-1) as StoredAuditRecord).chainSeq });
      if (batch.length === BATCH) more = true;
    }
    if (records.length === 0) return false;
    // Time order across chains (each chain is already in order); ties broken so every run orders alike.
    records.sort((a, b) =>
      a.time < b.time ? -1 : a.time > b.time ? 1 : a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.chainSeq - b.chainSeq,
    );

    const states = new Map<Detector, StateMap<unknown>>();
    for (const detector of detectors) {
      const subjects = new Set(records.flatMap((r) => detector.subjects(r)));
      states.set(
        detector,
        new StateMap(subjects.size === 0 ? new Map() : await this.#store.getDetectorStates(detector.name, [...subjects])),
      );
    }
    const keyPairs = records
      .filter((r) => r.namespace !== null && r.key !== null && detectors.some((d) => d.needsVersions?.(r) === true))
      .map((r): [string, string] => [r.namespace as string, r.key as string]);
    const keys = await StepKeys.load(this.#store, keyPairs);

    const findings: Finding[] = [];
    for (const record of records) {
      const learning = record.chainSeq <= (learnUntil.get(record.chain) ?? 0);
      if (learning) run.learned++;
      for (const detector of detectors) {
        const finding = detector.observe(record, states.get(detector) as StateMap<unknown>, keys);
        if (finding !== null && !learning) findings.push(finding);
      }
    }
    run.records += records.length;

    const folded = foldFindings(findings);
    const now = this.#clock.now();
    const existing = new Map((await this.#store.findUnresolvedAlerts([...folded.keys()])).map((a) => [a.dedupKey, a]));
    const eventKeys = await StepKeys.load(
      this.#store,
      [...folded.values()]
        .filter((f) => !existing.has(dedupKey(f.type, f.subject)) && f.subject.namespace !== null && f.subject.key !== null)
        .map((f): [string, string] => [f.subject.namespace as string, f.subject.key as string]),
    );
    const raised: AlertRecord[] = [];
    await this.#store.transaction(async (tx) => {
      for (const [key, finding] of folded) {
        const prior = existing.get(key);
        if (prior !== undefined) {
          await tx.updateAlert(update(prior, finding, now));
          run.updated++;
          continue;
        }
        const alert = raise(finding, now);
        await tx.insertAlert(alert);
        await tx.appendEvents([raisedEvent(alert, eventKeys, now)]);
        raised.push(alert);
      }
      for (const [detector, state] of states) {
        const changes = state.changes();
        if (changes.length > 0) await tx.putDetectorStates(detector.name, changes, now.toISOString());
      }
      await tx.saveAlertCursors(moved);
    });
    run.raised += raised.length;
    for (const alert of raised) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(alert);
        } catch (error) {
          this.#onError(error);
        }
      }
    }
    return more;
  }

  async #prune(detectors: readonly Detector[]): Promise<void> {
    const now = this.#clock.now().getTime();
    for (const detector of detectors) {
      if (detector.retainMs === null) continue;
      await this.#store.pruneDetectorStates(detector.name, new Date(now - detector.retainMs - PRUNE_MARGIN_MS).toISOString());
    }
  }
}

/** The `alert.raised` event (docs/events.md): enough to act on, the rest at `GET /v1/alerts/{id}`. */
function raisedEvent(alert: AlertRecord, keys: StepKeys, now: Date): KeyEvent {
  const { namespace, key, version, principal, source } = alert.subject;
  const record = namespace !== null && key !== null ? keys.key(namespace, key) : null;
  return {
    type: 'alert.raised',
    time: now.toISOString(),
    namespace,
    key,
    keyId: record?.id ?? null,
    version,
    data: {
      alertId: alert.id,
      alertType: alert.type,
      severity: alert.severity,
      summary: alert.summary,
      principal,
      source,
      firstSeen: alert.firstSeen,
    },
  };
}
