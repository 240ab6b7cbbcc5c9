import { randomUUID } from 'node:crypto';
import { type IncidentStepName, type IncidentStepState, KeywardError, type VersionState } from '@keyward/wire';
import { addMs, parseDuration } from '../keys/duration.js';
import type { IncidentAckRecord, IncidentRecord } from '../store/incident-records.js';
import type { EventType, KeyRecord } from '../store/records.js';
import { type Store, StoreConflictError, type StoreOps } from '../store/store.js';
import { blastRadius, recoveryCounts, recoveryView, versionActivity } from './blast-radius.js';
import type { Clock } from './clock.js';
import { type IncidentActor, type IncidentJournal, type StepDetails, type StepListener, stepRecord, stepView } from './incident-journal.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { event, type Lifecycle, type Outcome, writeOutcome } from './lifecycle.js';
import type { NodePresence } from './node-presence.js';
import type { UseLimiter } from './use-limiter.js';

export interface PlaybookOptions {
  /** How long the contain step waits for every live node to acknowledge. */
  ackTimeoutMs: number;
  /** How often it looks for acknowledgements meanwhile. */
  ackPollMs: number;
}

/** What a declaration says; the front door (API or alert) fills it in. */
export interface Declaration {
  actor: IncidentActor;
  declaredAt: Date;
  namespace: string;
  keyName: string;
  /** Null: the primary version. */
  version: number | null;
  reason: string;
  origin: 'manual' | 'alert';
  alertId: string | null;
  alertType: string | null;
  raiseMinAfter: string | null;
  /** Writes the declaration's own audit record, inside the containment transaction. */
  recordDeclaration(tx: StoreOps, incident: IncidentRecord): Promise<void>;
}

/** Version states whose material is gone: nothing left to contain. */
const GONE: readonly VersionState[] = ['destroyed', 'destroyed_compromised'];

interface Contained {
  incident: IncidentRecord;
  key: KeyRecord;
  priorState: VersionState;
  primaryBefore: number;
  events: EventType[];
}

interface StepResult {
  state: IncidentStepState;
  outcome: string;
  details?: StepDetails;
  /** When the step's work was done, if earlier than now (the rotation commits with containment). */
  finishedAt?: Date;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * The key-compromise playbook (docs/incident-response.md): contain, rotate,
 * notify, blast radius, recovery. Containment and rotation are one
 * transaction with the incident record and the declaration's audit record;
 * every later step is recorded as it finishes and never undoes them, so a
 * failing step (say the blast radius query) is reported, not fatal.
 * Containment and the emergency rotation never consult the class standards
 * (policy/class-standards.ts): a key that breaks its class is no less in
 * need of protection, and an incident must not wait for a patch.
 */
export class CompromisePlaybook {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #lifecycle: Lifecycle;
  readonly #directory: KeyDirectory;
  readonly #keyring: Keyring;
  readonly #uses: UseLimiter;
  readonly #presence: NodePresence;
  readonly #journal: IncidentJournal;
  readonly #options: PlaybookOptions;

  constructor(deps: {
    store: Store;
    clock: Clock;
    lifecycle: Lifecycle;
    directory: KeyDirectory;
    keyring: Keyring;
    uses: UseLimiter;
    presence: NodePresence;
    journal: IncidentJournal;
    options: PlaybookOptions;
  }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#lifecycle = deps.lifecycle;
    this.#directory = deps.directory;
    this.#keyring = deps.keyring;
    this.#uses = deps.uses;
    this.#presence = deps.presence;
    this.#journal = deps.journal;
    this.#options = Object.freeze({ ...deps.options });
  }

  /** Runs the playbook; throws only if containment itself failed (then nothing was written). */
  async run(d: Declaration, onStep: StepListener): Promise<IncidentRecord> {
    const raiseMs = d.raiseMinAfter === null ? null : parseDuration('raiseMinDecryptionVersionAfter', d.raiseMinAfter);
    const expected = await this.#presence.live();
    const contained = await this.#contain(d, expected, raiseMs);
    const { incident } = contained;
    // This node drops what it cached at once; the others on the change notification, then acknowledge.
    this.#directory.forget(incident.namespace, incident.keyName);
    this.#keyring.forgetKey(incident.keyId);
    this.#uses.forgetKey(incident.keyId);
    await this.#store.ackIncident(this.#presence.ack(incident.id));
    const emit = (step: Parameters<typeof stepView>[0]) => {
      try {
        onStep(stepView(step));
      } catch {
        // A listener (a client that went away) never stops the playbook.
      }
    };

    const containing = stepRecord(incident, 'contain', 'running', d.declaredAt, null, this.#containingText(contained), {
      nodes: expected.length,
    });
    await this.#journal.record(incident, containing, d.actor);
    emit(containing);
    const { acks, timedOut } = await this.#awaitAcks(incident);
    if (timedOut) await this.#store.updateIncident(incident.id, { containTimedOut: true, updatedAt: this.#clock.now().toISOString() });
    incident.containTimedOut = timedOut;
    await this.#finish(incident, 'contain', d, emit, d.declaredAt, async () => this.#containResult(contained, acks, timedOut));
    await this.#finish(incident, 'rotate', d, emit, d.declaredAt, async () => this.#rotateResult(contained));
    await this.#finish(incident, 'notify', d, emit, this.#clock.now(), () => this.#notify(contained));
    await this.#finish(incident, 'blast_radius', d, emit, this.#clock.now(), () => this.#blastRadius(contained));
    await this.#finish(incident, 'recovery', d, emit, this.#clock.now(), () => this.#recovery(contained));
    return (await this.#store.getIncident(incident.id)) ?? incident;
  }

  /**
   * One transaction: the incident, the version compromised (and the key
   * rotated if it was primary), the events, the declaration's audit record.
   * A version already compromised or destroyed is not changed, but its key
   * is still announced so that every node drops and acknowledges.
   */
  async #contain(d: Declaration, expected: string[], raiseMs: number | null): Promise<Contained> {
    const now = d.declaredAt;
    try {
      return await this.#lifecycle.transaction(this.#store, async (tx) => {
        const key = await tx.lockKey(d.namespace, d.keyName);
        if (key === null) throw new KeywardError('not_found', `key '${d.keyName}' does not exist in namespace '${d.namespace}'`);
        const versions = await tx.getVersions(key.id);
        const n = d.version ?? key.primaryVersion;
        const version = versions.find((v) => v.version === n);
        if (version === undefined) throw new KeywardError('not_found', `key '${d.keyName}' has no version ${n}`);
        const open = (await tx.listOpenIncidents(key.id, 1000)).find((i) => i.version === n);
        if (open !== undefined) {
          throw new KeywardError('conflict', `incident ${open.id} is already open for version ${n} of key '${d.keyName}'`);
        }
        const live = version.state !== 'compromised' && !GONE.includes(version.state);
        const outcome: Outcome = live
          ? await this.#lifecycle.compromise(tx, key, versions, version, now, d.reason)
          : { key, changed: [], created: [], events: [] };
        const rotatedTo = outcome.created.find((v) => v.state === 'active')?.version ?? null;
        const id = randomUUID();
        const incident: IncidentRecord = {
          id,
          type: 'key_compromise',
          state: 'open',
          namespace: key.namespace,
          keyName: key.name,
          keyId: key.id,
          version: n,
          reason: d.reason,
          declaredBy: d.actor.id,
          declaredAt: now.toISOString(),
          origin: d.origin,
          alertId: d.alertId,
          alertType: d.alertType,
          requestId: d.actor.requestId,
          rotatedTo,
          // The new primary is written now, in this transaction: measured from the declaration.
          rekeyedAt: rotatedTo === null ? null : this.#clock.now().toISOString(),
          expectedNodes: expected,
          ackTimeoutMs: this.#options.ackTimeoutMs,
          containTimedOut: false,
          raiseMinAfter: d.raiseMinAfter,
          raiseMinAt: raiseMs === null ? null : addMs(now, raiseMs).toISOString(),
          minRaisedAt: null,
          recoveryWaiver: null,
          blastRadius: null,
          recoverySnapshot: null,
          rootCause: null,
          followUps: [],
          updatedAt: now.toISOString(),
          closedAt: null,
          closedBy: null,
        };
        await tx.insertIncident(incident);
        const data: Record<string, string | number | boolean | null> = { incident: id, reason: d.reason, origin: d.origin, rotatedTo };
        if (d.alertId !== null) data.alertId = d.alertId;
        outcome.events.push(event('incident.opened', outcome.key, n, now, data));
        const written = await writeOutcome(tx, outcome, now);
        await d.recordDeclaration(tx, incident);
        return {
          incident,
          key: written,
          priorState: version.state,
          primaryBefore: key.primaryVersion,
          events: outcome.events.map((e) => e.type),
        };
      });
    } catch (error) {
      if (error instanceof StoreConflictError) throw new KeywardError('conflict', error.message);
      throw error;
    }
  }

  /** Waits (bounded, in real time) until every expected node has acknowledged. */
  async #awaitAcks(incident: IncidentRecord): Promise<{ acks: IncidentAckRecord[]; timedOut: boolean }> {
    const deadline = performance.now() + this.#options.ackTimeoutMs;
    for (;;) {
      const acks = await this.#store.listIncidentAcks([incident.id]);
      if (incident.expectedNodes.every((node) => acks.some((a) => a.node === node))) return { acks, timedOut: false };
      const left = deadline - performance.now();
      if (left <= 0) return { acks, timedOut: true };
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.#options.ackPollMs, left)));
    }
  }

  /** Runs one step's body and records how it finished; a failure is recorded, not thrown. */
  async #finish(
    incident: IncidentRecord,
    name: IncidentStepName,
    d: Declaration,
    emit: (step: ReturnType<typeof stepRecord>) => void,
    startedAt: Date,
    body: () => Promise<StepResult>,
  ): Promise<void> {
    let result: StepResult;
    try {
      result = await body();
    } catch (error) {
      const code = error instanceof KeywardError ? error.code : 'internal';
      const message = error instanceof KeywardError ? error.message : 'internal error; the request id identifies it in the server log';
      result = { state: 'failed', outcome: `failed: ${message}`, details: { errorCode: code } };
    }
    // A step that goes on after the declaration (recovery) stays running, without a finish time.
    const finishedAt = result.state === 'running' ? null : (result.finishedAt ?? this.#clock.now());
    const step = stepRecord(incident, name, result.state, startedAt, finishedAt, result.outcome, result.details ?? {});
    try {
      await this.#journal.record(incident, step, d.actor);
    } catch {
      // The store is failing: the step is still reported to the caller, and the record shows it running.
    }
    emit(step);
  }

  #containingText(c: Contained): string {
    const n = c.incident.version;
    return `version ${n} ${GONE.includes(c.priorState) ? 'is destroyed' : 'is compromised'}; waiting for ${plural(c.incident.expectedNodes.length, 'node')} to drop it`;
  }

  #containResult(c: Contained, acks: IncidentAckRecord[], timedOut: boolean): StepResult {
    const { incident } = c;
    const n = incident.version;
    const expected = incident.expectedNodes;
    const acked = expected.filter((node) => acks.some((a) => a.node === node));
    const delays = acks
      .filter((a) => expected.includes(a.node))
      .map((a) => Math.max(0, Date.parse(a.ackedAt) - Date.parse(incident.declaredAt)));
    const slowest = delays.length === 0 ? 0 : Math.max(...delays);
    const details: StepDetails = {
      nodes: expected.length,
      acknowledged: acked.length,
      timeoutMs: incident.ackTimeoutMs,
      priorState: c.priorState,
    };
    if (GONE.includes(c.priorState)) {
      return { state: 'skipped', outcome: `version ${n} is ${c.priorState}: its material is already erased, nothing to contain`, details };
    }
    const what =
      c.priorState === 'compromised'
        ? `version ${n} was already compromised; cached state dropped again`
        : `version ${n} compromised: it encrypts, signs and wraps nothing more and decrypts only for principals allowed to recover data; cached material dropped`;
    if (timedOut) {
      const missing = expected.filter((node) => !acked.includes(node));
      details.missing = missing.join(',');
      return {
        state: 'timed_out',
        outcome: `${what} on ${acked.length} of ${plural(expected.length, 'node')} within ${incident.ackTimeoutMs} ms; no acknowledgement from ${missing.join(', ')} (a node whose change listener is down reads through its caches, so it refuses the version too; check that the node is alive)`,
        details,
      };
    }
    return { state: 'done', outcome: `${what} on ${plural(expected.length, 'node')}, the last after ${slowest} ms`, details };
  }

  #rotateResult(c: Contained): StepResult {
    const { incident, key } = c;
    if (incident.rotatedTo !== null) {
      return {
        state: 'done',
        outcome: `rotated: version ${incident.rotatedTo} is the primary version (trigger event); new ciphertexts and signatures use it`,
        details: { rotatedTo: incident.rotatedTo, previousVersion: c.primaryBefore },
        ...(incident.rekeyedAt === null ? {} : { finishedAt: new Date(incident.rekeyedAt) }),
      };
    }
    if (incident.version !== c.primaryBefore) {
      return {
        state: 'skipped',
        outcome: `not needed: version ${incident.version} was not the primary version; version ${key.primaryVersion} stays primary`,
        details: { primaryVersion: key.primaryVersion },
      };
    }
    return { state: 'skipped', outcome: `key '${key.name}' is ${key.state}: not rotated`, details: { keyState: key.state } };
  }

  async #notify(c: Contained): Promise<StepResult> {
    const types = new Set(c.events);
    let webhooks = 0;
    for (let after: string | null = null; ; ) {
      const page = await this.#store.listWebhooks(100, after);
      webhooks += page.filter((w) => w.events.some((t) => types.has(t))).length;
      if (page.length < 100) break;
      after = page.at(-1)?.id ?? null;
    }
    const published = `published ${c.events.join(', ')}`;
    const outcome =
      webhooks === 0
        ? `${published}; no webhook subscribes to them (only event stream readers are told)`
        : `${published}; ${plural(webhooks, 'webhook')} subscribed, delivered in the background (see each webhook's deliveries)`;
    return { state: 'done', outcome, details: { events: c.events.join(','), webhooks } };
  }

  async #blastRadius(c: Contained): Promise<StepResult> {
    const { incident } = c;
    const rows = await versionActivity(this.#store, incident, c.key.createdAt);
    const report = blastRadius(incident, c.key.createdAt, rows, this.#clock.now());
    await this.#store.updateIncident(incident.id, { blastRadius: report, updatedAt: this.#clock.now().toISOString() });
    incident.blastRadius = report;
    const ops = Object.entries(report.byOperation)
      .map(([op, count]) => `${op} ${count}`)
      .join(', ');
    const issued = `${plural(report.issued.ciphertexts, 'ciphertext')} and ${plural(report.issued.dataKeys, 'data key')} issued under it`;
    const outcome =
      report.uses.length === 0
        ? `version ${incident.version} was never used before the declaration; ${issued}`
        : `${plural(report.principals.length, 'principal')} from ${plural(report.sources.length, 'source')} used version ${incident.version} from ${report.firstUseAt} to ${report.lastUseAt} (${ops}); ${issued}`;
    return {
      state: 'done',
      outcome,
      details: {
        principals: report.principals.length,
        sources: report.sources.length,
        ciphertexts: report.issued.ciphertexts,
        dataKeys: report.issued.dataKeys,
      },
    };
  }

  async #recovery(c: Contained): Promise<StepResult> {
    const { incident } = c;
    const counts = recoveryCounts(await versionActivity(this.#store, incident, c.key.createdAt));
    await this.#store.updateIncident(incident.id, { recoverySnapshot: counts, updatedAt: this.#clock.now().toISOString() });
    incident.recoverySnapshot = counts;
    const recovery = recoveryView(incident, counts, false);
    const raise =
      incident.raiseMinAt === null ? '' : `; minDecryptionVersion rises above version ${incident.version} at ${incident.raiseMinAt}`;
    const details: StepDetails = { remaining: recovery.remaining, raiseAt: incident.raiseMinAt };
    if (recovery.remaining === 0) {
      return { state: 'done', outcome: `nothing issued under version ${incident.version} is left to re-encrypt${raise}`, details };
    }
    return {
      state: 'running',
      outcome: `${plural(recovery.remaining, 'ciphertext or data key', 'ciphertexts and data keys')} issued under version ${incident.version} to re-encrypt: rewrap them (POST /v1/incidents/${incident.id}/rewrap)${raise}`,
      details,
    };
  }
}
