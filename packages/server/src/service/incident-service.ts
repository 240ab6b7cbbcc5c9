import {
  type BlastRadiusReport,
  type DeclareIncidentRequest,
  type EncryptionContext,
  type EncryptResponse,
  type IncidentList,
  type IncidentListQuery,
  type IncidentRecovery,
  type IncidentRewrapResponse,
  type IncidentView,
  KeywardError,
  type PatchIncidentRequest,
} from '@keyward/wire';
import type { AuditLog } from '../audit/audit-log.js';
import { NAME_REGEX } from '../keys/names.js';
import type { IncidentChange, IncidentRecord } from '../store/incident-records.js';
import type { Store, StoreOps } from '../store/store.js';
import { blastRadius, recoveryCounts, recoveryView, versionActivity, versionRetired } from './blast-radius.js';
import type { Clock } from './clock.js';
import type { CompromisePlaybook, Declaration, PlaybookOptions } from './compromise-playbook.js';
import type { CallContext } from './context.js';
import type { CryptoService } from './crypto-service.js';
import type { Gate, Scope } from './gate.js';
import { checkDue, decodeCursor, encodeCursor } from './incident-input.js';
import { type IncidentActor, type IncidentJournal, type StepListener, stepRecord } from './incident-journal.js';
import { incidentView } from './incident-views.js';
import type { KeyDirectory } from './key-directory.js';
import { SYSTEM_ACTOR } from './system-actions.js';

/** What an alert hands over to open an incident on its own (automatic containment). */
export interface AlertTrigger {
  alertId: string;
  /** The alert's type, e.g. `compromised_version_use`. */
  type: string;
  namespace: string;
  key: string;
  /** Null: the key's primary version. */
  version: number | null;
  reason: string;
}

export interface ListIncidentsInput extends Omit<IncidentListQuery, 'limit' | 'cursor'> {
  limit: number;
  cursor: string | null;
}

export interface IncidentOptions extends PlaybookOptions {
  /** A node not seen (heartbeat) for this long is not waited for by containment. */
  nodeTtlMs: number;
}

export const DEFAULT_INCIDENT_OPTIONS: IncidentOptions = Object.freeze({ ackTimeoutMs: 5_000, ackPollMs: 25, nodeTtlMs: 60_000 });

/** Open incidents one call looks at (reports, acknowledgements); there are few at any time. */
const MAX_OPEN = 1000;

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Incidents: declaring a key compromise (the playbook), reading, updating
 * and closing the record, the live blast radius, and the recovery rewrap.
 * Every call goes through the gate (one audit record each); the playbook's
 * steps add one record per finished step.
 */
export class IncidentService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #directory: KeyDirectory;
  readonly #playbook: CompromisePlaybook;
  readonly #journal: IncidentJournal;
  readonly #crypto: CryptoService;

  constructor(deps: {
    gate: Gate;
    store: Store;
    audit: AuditLog;
    clock: Clock;
    directory: KeyDirectory;
    playbook: CompromisePlaybook;
    journal: IncidentJournal;
    crypto: CryptoService;
  }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#directory = deps.directory;
    this.#playbook = deps.playbook;
    this.#journal = deps.journal;
    this.#crypto = deps.crypto;
  }

  /**
   * Declares a key version compromised and runs the playbook: contain,
   * rotate, notify, blast radius, recovery. `onStep` hears each step as it
   * starts and finishes. Allowed to whoever may compromise that key.
   */
  declare(ctx: CallContext, req: DeclareIncidentRequest, onStep: StepListener = () => {}): Promise<IncidentView> {
    return this.#gate.run(ctx, 'incident.declare', async (scope) => {
      scope.key = req.key;
      const loaded = await this.#directory.load(ctx.namespace, req.key);
      scope.keyVersion = req.version ?? loaded.record.primaryVersion;
      scope.authorize(loaded);
      scope.details.type = req.type;
      scope.details.reason = req.reason;
      const record = await this.#playbook.run(
        {
          actor: { id: scope.principal.id, requestId: ctx.requestId, source: ctx.source },
          declaredAt: scope.now,
          namespace: ctx.namespace,
          keyName: req.key,
          version: req.version ?? null,
          reason: req.reason,
          origin: 'manual',
          alertId: null,
          alertType: null,
          raiseMinAfter: req.raiseMinDecryptionVersionAfter ?? null,
          recordDeclaration: async (tx, incident) => {
            scope.keyVersion = incident.version;
            scope.details.incident = incident.id;
            if (incident.rotatedTo !== null) scope.details.rotatedTo = incident.rotatedTo;
            await scope.recordIn(tx);
          },
        },
        onStep,
      );
      return this.#detail(record);
    });
  }

  /**
   * Opens an incident for an alert (automatic containment), as Keyward
   * itself (actor `keyward`, source `alert`). An incident already open for
   * that version is answered instead of a second one, so a repeating alert
   * does not stack incidents.
   */
  async openFromAlert(alert: AlertTrigger, onStep: StepListener = () => {}): Promise<IncidentView> {
    if (!NAME_REGEX.test(alert.namespace)) throw new KeywardError('invalid_request', `namespace: must match ${NAME_REGEX.source}`);
    if (!NAME_REGEX.test(alert.key)) throw new KeywardError('invalid_request', `key: must match ${NAME_REGEX.source}`);
    if (alert.reason.trim() === '') throw new KeywardError('invalid_request', 'reason: must not be empty');
    const existing = await this.#openFor(alert);
    if (existing !== null) return this.#detail(existing);
    const actor: IncidentActor = { id: SYSTEM_ACTOR, requestId: `alert-${alert.alertId}`, source: 'alert' };
    const declaredAt = this.#clock.now();
    const declaration: Declaration = {
      actor,
      declaredAt,
      namespace: alert.namespace,
      keyName: alert.key,
      version: alert.version,
      reason: alert.reason,
      origin: 'alert',
      alertId: alert.alertId,
      alertType: alert.type,
      raiseMinAfter: null,
      recordDeclaration: async (tx, incident) => {
        await this.#audit.recordIn(tx, {
          time: declaredAt.toISOString(),
          actor: SYSTEM_ACTOR,
          action: 'incident.declare',
          namespace: incident.namespace,
          key: incident.keyName,
          keyVersion: incident.version,
          outcome: 'success',
          errorCode: null,
          requestId: actor.requestId,
          source: actor.source,
          details: {
            incident: incident.id,
            type: 'key_compromise',
            reason: alert.reason,
            alertId: alert.alertId,
            alertType: alert.type,
            rotatedTo: incident.rotatedTo,
          },
        });
      },
    };
    try {
      return await this.#detail(await this.#playbook.run(declaration, onStep));
    } catch (error) {
      // Another node opened it for the same alert meanwhile.
      const raced = error instanceof KeywardError && error.code === 'conflict' ? await this.#openFor(alert) : null;
      if (raced === null) throw error;
      return this.#detail(raced);
    }
  }

  /** Incidents of the request's namespace, newest first. */
  list(ctx: CallContext, input: ListIncidentsInput): Promise<IncidentList> {
    return this.#gate.run(ctx, 'incident.read', async (scope) => {
      scope.authorize();
      if (input.state !== undefined) scope.details.state = input.state;
      if (input.key !== undefined) scope.details.filterKey = input.key;
      const after = input.cursor === null ? null : decodeCursor(input.cursor);
      const filter = {
        namespace: ctx.namespace,
        ...(input.state ? { state: input.state } : {}),
        ...(input.key ? { keyName: input.key } : {}),
      };
      const rows = await this.#store.listIncidents(filter, input.limit + 1, after);
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return {
        incidents: await this.#summaries(page),
        nextCursor: rows.length > input.limit && last ? encodeCursor({ declaredAt: last.declaredAt, id: last.id }) : null,
      };
    });
  }

  get(ctx: CallContext, id: string): Promise<IncidentView> {
    return this.#gate.run(ctx, 'incident.read', async (scope) => this.#detail(await this.#load(ctx, scope, id)));
  }

  /** Recomputed from the audit trail now (the record keeps the one found at the declaration). */
  blastRadius(ctx: CallContext, id: string): Promise<BlastRadiusReport> {
    return this.#gate.run(ctx, 'incident.read', async (scope) => {
      const incident = await this.#load(ctx, scope, id);
      const key = await this.#store.getKeyById(incident.keyId);
      const from = key?.createdAt ?? incident.declaredAt;
      return blastRadius(incident, from, await versionActivity(this.#store, incident, from), this.#clock.now());
    });
  }

  /**
   * Root cause, follow-ups, waiving recovery, closing. Closing needs a root
   * cause, and recovery complete (or waived); a closed incident keeps taking
   * root-cause and follow-up edits.
   */
  patch(ctx: CallContext, id: string, req: PatchIncidentRequest): Promise<IncidentView> {
    return this.#gate.run(ctx, 'incident.update', async (scope) => {
      const incident = await this.#load(ctx, scope, id);
      scope.details.fields = Object.keys(req).sort().join(',');
      if (req.followUps !== undefined) checkDue(req.followUps);
      const actor: IncidentActor = { id: scope.principal.id, requestId: ctx.requestId, source: ctx.source };
      const closing = req.state === 'closed' && incident.state !== 'closed';
      const live = closing ? await this.#liveRecovery(incident) : null;
      await this.#store.transaction(async (tx) => {
        const current = await tx.getIncident(id);
        if (current === null) throw new KeywardError('not_found', `incident '${id}' does not exist`);
        const now = this.#clock.now();
        const change: IncidentChange = { updatedAt: now.toISOString() };
        if (req.rootCause !== undefined) change.rootCause = req.rootCause;
        if (req.followUps !== undefined) change.followUps = req.followUps;
        const recoveryStep = (await tx.listIncidentSteps([id])).find((s) => s.name === 'recovery');
        const recoveryStarted = recoveryStep === undefined ? now : new Date(recoveryStep.startedAt);
        if (req.waiveRecovery !== undefined) {
          if (current.state === 'closed')
            throw new KeywardError('invalid_state', `incident ${id} is closed; its recovery cannot be waived`);
          change.recoveryWaiver = req.waiveRecovery;
          const text = `waived by ${actor.id}: ${req.waiveRecovery}`;
          await this.#journal.record(current, stepRecord(current, 'recovery', 'waived', recoveryStarted, now, text), actor, tx);
        }
        if (closing && current.state === 'open' && live !== null) {
          await this.#close(tx, current, change, live, actor, now, recoveryStep?.state === 'running' ? recoveryStarted : null);
        }
        await tx.updateIncident(id, change);
        await scope.recordIn(tx);
      });
      return this.#detail((await this.#store.getIncident(id)) ?? incident);
    });
  }

  /**
   * Re-encrypts ciphertexts issued under the incident's key under its
   * primary version (each item is a `crypto.rewrap` of its own, authorized
   * and audited as such), and answers the recovery progress.
   */
  rewrap(
    ctx: CallContext,
    id: string,
    items: ReadonlyArray<{ ciphertext: string; context?: EncryptionContext }>,
  ): Promise<IncidentRewrapResponse> {
    return this.#gate.run(ctx, 'incident.rewrap', async (scope) => {
      const incident = await this.#load(ctx, scope, id);
      scope.details.items = items.length;
      const results = await Promise.all(
        items.map(async (item, i): Promise<IncidentRewrapResponse['items'][number]> => {
          try {
            const rewrapped: EncryptResponse = await this.#crypto.rewrap(ctx, incident.keyName, item.ciphertext, item.context ?? {});
            return rewrapped;
          } catch (error) {
            if (error instanceof KeywardError) return { error: { code: error.code, message: `items[${i}]: ${error.message}` } };
            throw error;
          }
        }),
      );
      scope.details.rewrapped = results.filter((r) => !('error' in r)).length;
      const recovery = await this.#liveRecovery(incident);
      await this.#store.updateIncident(incident.id, { recoverySnapshot: recovery.counts, updatedAt: this.#clock.now().toISOString() });
      return { items: results, recovery: recovery.view };
    });
  }

  /** Open incidents of every namespace, newest first, for reports (no gate: the caller is Keyward itself). */
  async openIncidents(): Promise<IncidentView[]> {
    return this.#summaries(await this.#store.listOpenIncidents(null, MAX_OPEN));
  }

  /** Recovery counted from the audit trail now, and whether it is complete. */
  async #liveRecovery(incident: IncidentRecord): Promise<{ view: IncidentRecovery; counts: ReturnType<typeof recoveryCounts> }> {
    const key = await this.#store.getKeyById(incident.keyId);
    const versions = key === null ? [] : await this.#store.getVersions(key.id);
    const rows = await versionActivity(this.#store, incident, key?.createdAt ?? incident.declaredAt);
    const counts = recoveryCounts(rows);
    const retired = versionRetired(
      incident,
      key,
      versions.find((v) => v.version === incident.version),
    );
    return { view: recoveryView(incident, counts, retired), counts };
  }

  async #close(
    tx: StoreOps,
    incident: IncidentRecord,
    change: IncidentChange,
    live: { view: IncidentRecovery; counts: ReturnType<typeof recoveryCounts> },
    actor: IncidentActor,
    now: Date,
    recoveryRunningSince: Date | null,
  ): Promise<void> {
    const rootCause = change.rootCause ?? incident.rootCause;
    if (rootCause === null || rootCause.trim() === '') {
      throw new KeywardError('invalid_state', `incident ${incident.id} cannot close without a root cause: send rootCause`);
    }
    const waiver = change.recoveryWaiver ?? incident.recoveryWaiver;
    if (!live.view.complete && waiver === null) {
      throw new KeywardError(
        'invalid_state',
        `incident ${incident.id} cannot close: ${plural(live.view.remaining, 'ciphertext or data key', 'ciphertexts and data keys')} issued under version ${incident.version} not re-encrypted yet; rewrap them, raise minDecryptionVersion above ${incident.version}, or send waiveRecovery with a reason`,
      );
    }
    if (recoveryRunningSince !== null && live.view.complete && change.recoveryWaiver === undefined) {
      const text = `complete: ${live.counts.rewrappedBeforeIncident + live.counts.rewrappedSinceIncident} rewrapped of ${live.counts.ciphertextsIssued + live.counts.dataKeysIssued} issued${live.view.remaining > 0 ? `; version ${incident.version} no longer decrypts` : ''}`;
      await this.#journal.record(incident, stepRecord(incident, 'recovery', 'done', recoveryRunningSince, now, text), actor, tx);
    }
    const followUps = change.followUps ?? incident.followUps;
    const open = followUps.filter((f) => !f.done).length;
    const text = `closed by ${actor.id}; root cause recorded; ${plural(followUps.length, 'follow-up')} (${open} open)`;
    await this.#journal.record(
      incident,
      stepRecord(incident, 'close', 'done', now, now, text, { followUps: followUps.length, open }),
      actor,
      tx,
    );
    Object.assign(change, { state: 'closed', closedAt: now.toISOString(), closedBy: actor.id, recoverySnapshot: live.counts });
    await tx.appendEvents([
      {
        type: 'incident.closed',
        time: now.toISOString(),
        namespace: incident.namespace,
        key: incident.keyName,
        keyId: incident.keyId,
        version: incident.version,
        // The root cause stays in the record: receivers learn that it closed, and read the record if allowed.
        data: { incident: incident.id, closedBy: actor.id },
      },
    ]);
  }

  /** The incident `id` of the request's namespace, authorized against its key; not_found otherwise. */
  async #load(ctx: CallContext, scope: Scope, id: string): Promise<IncidentRecord> {
    scope.details.incident = id;
    const incident = await this.#store.getIncident(id);
    if (incident === null || incident.namespace !== ctx.namespace) {
      throw new KeywardError('not_found', `incident '${id}' does not exist in namespace '${ctx.namespace}'`);
    }
    scope.key = incident.keyName;
    scope.keyVersion = incident.version;
    const loaded = await this.#directory.load(incident.namespace, incident.keyName).catch(() => null);
    scope.authorize(loaded !== null && loaded.record.id === incident.keyId ? loaded : undefined);
    return incident;
  }

  /**
   * The open incident an alert repeats: of that version, or, for an alert
   * naming no version, of any version of the key (the primary has changed
   * since the first incident rotated it; compromising the new one would
   * rotate again at every repeat).
   */
  async #openFor(alert: AlertTrigger): Promise<IncidentRecord | null> {
    const key = await this.#store.getKey(alert.namespace, alert.key);
    if (key === null) throw new KeywardError('not_found', `key '${alert.key}' does not exist in namespace '${alert.namespace}'`);
    const open = await this.#store.listOpenIncidents(key.id, MAX_OPEN);
    return open.find((i) => alert.version === null || i.version === alert.version) ?? null;
  }

  /** One incident with its steps, node acknowledgements, live recovery and the blast radius found at the declaration. */
  async #detail(incident: IncidentRecord): Promise<IncidentView> {
    const [steps, acks, recovery] = await Promise.all([
      this.#store.listIncidentSteps([incident.id]),
      this.#store.listIncidentAcks([incident.id]),
      this.#liveRecovery(incident),
    ]);
    return incidentView(incident, steps, acks, recovery.view, true);
  }

  /** Incidents for lists: recovery as last computed (by the playbook, a rewrap, the periodic job). */
  async #summaries(incidents: readonly IncidentRecord[]): Promise<IncidentView[]> {
    const ids = incidents.map((i) => i.id);
    const [steps, acks] = await Promise.all([this.#store.listIncidentSteps(ids), this.#store.listIncidentAcks(ids)]);
    return incidents.map((i) => {
      const retired = i.minRaisedAt !== null;
      return incidentView(i, steps, acks, recoveryView(i, i.recoverySnapshot, retired), false);
    });
  }
}
