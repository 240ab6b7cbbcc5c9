import { INCIDENT_STEPS, type IncidentStepName, type IncidentStepState, type IncidentStepView } from '@keyward/wire';
import type { AuditLog } from '../audit/audit-log.js';
import type { IncidentRecord, IncidentStepRecord } from '../store/incident-records.js';
import type { Store, StoreOps } from '../store/store.js';

/** Who a step is done for: the declaring principal, the scheduler, or Keyward itself for an alert. */
export interface IncidentActor {
  id: string;
  requestId: string;
  source: string;
}

export type StepDetails = IncidentStepRecord['details'];

/** Called with each step as it starts and finishes (the NDJSON answer of a declaration). */
export type StepListener = (step: IncidentStepView) => void;

export function stepView(s: IncidentStepRecord): IncidentStepView {
  const durationMs = s.finishedAt === null ? null : Math.max(0, Date.parse(s.finishedAt) - Date.parse(s.startedAt));
  return {
    name: s.name,
    state: s.state,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    durationMs,
    outcome: s.outcome,
    details: s.details,
  };
}

/** A step record at its fixed place in the playbook's order. */
export function stepRecord(
  incident: IncidentRecord,
  name: IncidentStepName,
  state: IncidentStepState,
  startedAt: Date,
  finishedAt: Date | null,
  outcome: string,
  details: StepDetails = {},
): IncidentStepRecord {
  return {
    incidentId: incident.id,
    name,
    position: INCIDENT_STEPS.indexOf(name),
    state,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt === null ? null : finishedAt.toISOString(),
    outcome,
    details,
  };
}

/**
 * Writes the steps of incidents. A finished step gets its own audit record
 * (action `incident.step`), in the same transaction as the step, so the
 * audit trail tells the playbook's story even if the incident tables were
 * lost; a running step is stored but not audited.
 */
export class IncidentJournal {
  readonly #store: Store;
  readonly #audit: AuditLog;

  constructor(deps: { store: Store; audit: AuditLog }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
  }

  /**
   * Writes `step` in `tx`; or in a transaction of its own, then waits until
   * its audit record is durable.
   */
  async record(incident: IncidentRecord, step: IncidentStepRecord, actor: IncidentActor, tx?: StoreOps): Promise<void> {
    if (tx !== undefined) {
      await this.#write(tx, incident, step, actor);
      return;
    }
    const written = await this.#store.transaction((own) => this.#write(own, incident, step, actor));
    await written?.durable;
  }

  /**
   * Answers the audit record's durability wrapped in an object: a promise
   * returned from an async function (or a transaction callback) would be
   * awaited before the commit it waits for.
   */
  async #write(
    tx: StoreOps,
    incident: IncidentRecord,
    step: IncidentStepRecord,
    actor: IncidentActor,
  ): Promise<{ durable: Promise<void> } | null> {
    await tx.putIncidentStep(step);
    if (step.finishedAt === null) return null;
    const failed = step.state === 'failed';
    const view = stepView(step);
    const recorded = await this.#audit.recordIn(tx, {
      time: step.finishedAt,
      actor: actor.id,
      action: 'incident.step',
      namespace: incident.namespace,
      key: incident.keyName,
      keyVersion: incident.version,
      outcome: failed ? 'error' : 'success',
      errorCode: failed ? String(step.details.errorCode ?? 'internal') : null,
      requestId: actor.requestId,
      source: actor.source,
      details: { incident: incident.id, step: step.name, state: step.state, durationMs: view.durationMs },
    });
    return { durable: recorded.durable };
  }
}
