import { type AlertList, type AlertListQuery, type AlertType, type AlertView, KeywardError } from '@keyward/wire';
import type { CallContext } from '../service/context.js';
import type { Gate } from '../service/gate.js';
import type { AlertFilter, AlertRecord, StoredAlert } from '../store/alert-records.js';
import type { KeyEvent } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import type { AlertEngine } from './alert-engine.js';
import { alertView } from './views.js';

/** Longest acknowledge or resolve note. */
export const MAX_NOTE_LENGTH = 2048;

/**
 * `/v1/alerts`: list and read alerts, acknowledge and resolve them
 * (docs/alerts.md). Reading needs `alert.read` (admin, auditor);
 * acknowledging and resolving need `alert.acknowledge` / `alert.resolve`
 * (admin). Every call is audited through the gate; notes are not copied
 * into audit records or events (they are free text).
 */
export class AlertService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #engine: AlertEngine;

  constructor(deps: { gate: Gate; store: Store; engine: AlertEngine }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#engine = deps.engine;
  }

  /** Alerts newest first; `cursor` is the position the previous page ended at. */
  list(ctx: CallContext, query: AlertListQuery): Promise<AlertList> {
    return this.#gate.run(ctx, 'alert.read', async (scope) => {
      scope.authorize();
      const filter: AlertFilter = {};
      if (query.state !== undefined) filter.state = query.state;
      if (query.type !== undefined) filter.type = query.type;
      if (query.key !== undefined) {
        filter.namespace = ctx.namespace;
        filter.key = query.key;
        scope.details.key = query.key;
      }
      const limit = query.limit ?? 100;
      const rows = await this.#store.listAlerts(filter, limit + 1, query.cursor === undefined ? null : Number(query.cursor));
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { alerts: page.map(alertView), nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null };
    });
  }

  get(ctx: CallContext, id: string): Promise<AlertView> {
    return this.#gate.run(ctx, 'alert.read', async (scope) => {
      scope.authorize();
      scope.details.alertId = id;
      return alertView(await this.#alert(this.#store, id));
    });
  }

  /** `open` → `acknowledged`: someone is looking at it. Repeats keep counting into it until it is resolved. */
  acknowledge(ctx: CallContext, id: string, note: string | null): Promise<AlertView> {
    return this.#gate.run(ctx, 'alert.acknowledge', async (scope) => {
      scope.authorize();
      scope.details.alertId = id;
      return this.#store.transaction(async (tx) => {
        const alert = await this.#alert(tx, id);
        if (alert.state !== 'open') throw new KeywardError('invalid_state', `alert '${id}' is ${alert.state} and cannot be acknowledged`);
        const at = scope.now.toISOString();
        const next: AlertRecord = {
          ...alert,
          state: 'acknowledged',
          acknowledgedAt: at,
          acknowledgedBy: scope.principal.id,
          acknowledgeNote: note,
          updatedAt: at,
        };
        await tx.updateAlert(next);
        await scope.recordIn(tx);
        return alertView(next);
      });
    });
  }

  /**
   * `open` or `acknowledged` → `resolved`, with a note saying why. A later
   * occurrence of the same type and subject raises a new alert.
   */
  resolve(ctx: CallContext, id: string, note: string): Promise<AlertView> {
    return this.#gate.run(ctx, 'alert.resolve', async (scope) => {
      scope.authorize();
      scope.details.alertId = id;
      if (note.trim() === '') throw new KeywardError('invalid_request', 'note: say why the alert is resolved');
      return this.#store.transaction(async (tx) => {
        const alert = await this.#alert(tx, id);
        if (alert.state === 'resolved') throw new KeywardError('invalid_state', `alert '${id}' is resolved already`);
        const at = scope.now.toISOString();
        const next: AlertRecord = {
          ...alert,
          state: 'resolved',
          resolvedAt: at,
          resolvedBy: scope.principal.id,
          resolveNote: note,
          updatedAt: at,
        };
        await tx.updateAlert(next);
        const { namespace, key } = next.subject;
        const keyId = namespace !== null && key !== null ? ((await tx.getKey(namespace, key))?.id ?? null) : null;
        await tx.appendEvents([resolvedEvent(next, keyId, at)]);
        await scope.recordIn(tx);
        return alertView(next);
      });
    });
  }

  /** Alerts in state `open` (neither acknowledged nor resolved), per type: for the metrics' open-alerts gauge. */
  openCounts(): Promise<Array<{ type: AlertType; count: number }>> {
    return this.#store.countAlerts('open');
  }

  /** Calls `listener` with each newly raised alert once it is committed (metrics, automatic containment). */
  onRaised(listener: (alert: AlertView) => void): () => void {
    return this.#engine.onRaised((alert) => listener(alertView(alert)));
  }

  async #alert(store: StoreOps, id: string): Promise<StoredAlert> {
    const alert = await store.getAlert(id);
    if (alert === null) throw new KeywardError('not_found', `alert '${id}' does not exist`);
    return alert;
  }
}

function resolvedEvent(alert: AlertRecord, keyId: string | null, at: string): KeyEvent {
  const { namespace, key, version, principal, source } = alert.subject;
  return {
    type: 'alert.resolved',
    time: at,
    namespace,
    key,
    keyId,
    version,
    data: {
      alertId: alert.id,
      alertType: alert.type,
      severity: alert.severity,
      resolvedBy: alert.resolvedBy,
      count: alert.count,
      principal,
      source,
    },
  };
}
