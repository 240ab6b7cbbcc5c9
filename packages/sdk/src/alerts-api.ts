import type { AlertList, AlertListQuery, AlertView, PolicyStatusView } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { EventsApi } from './events-api.js';
import { pickDefined } from './pick-defined.js';

/** Anomaly alerts and the policy file's status (docs/alerts.md). */
export class AlertsApi extends EventsApi {
  /**
   * One page of alerts, newest first; filter by state, type, or key (in the client's namespace).
   *
   * @example
   * const { alerts } = await client.listAlerts({ state: 'open', type: 'invalid_ciphertext_burst' });
   */
  listAlerts(query: AlertListQuery = {}): Promise<AlertList> {
    return this.transport.request<AlertList>('GET', '/alerts', { query: pickDefined(query, ['state', 'type', 'key', 'limit', 'cursor']) });
  }

  /** One alert with its evidence (audit references, numbers) and next steps. */
  getAlert(id: string): Promise<AlertView> {
    return this.transport.request<AlertView>('GET', apiPath`/alerts/${id}`);
  }

  /**
   * Acknowledges an open alert (admin): someone is on it. Repeats still count into it.
   *
   * @example
   * await client.acknowledgeAlert(alert.id, 'looking into it');
   */
  acknowledgeAlert(id: string, note?: string): Promise<AlertView> {
    return this.transport.request<AlertView>('POST', apiPath`/alerts/${id}/acknowledge`, { body: note === undefined ? {} : { note } });
  }

  /**
   * Resolves an open or acknowledged alert (admin), saying why. A later occurrence raises a new alert.
   *
   * @example
   * await client.resolveAlert(alert.id, 'backfill job, announced in #ops');
   */
  resolveAlert(id: string, note: string): Promise<AlertView> {
    return this.transport.request<AlertView>('POST', apiPath`/alerts/${id}/resolve`, { body: { note } });
  }

  /** Which policy file is in force, its digest, and why a newer one was refused (`GET /v1/sys/policy`). */
  policyStatus(): Promise<PolicyStatusView> {
    return this.transport.request<PolicyStatusView>('GET', '/sys/policy');
  }
}
