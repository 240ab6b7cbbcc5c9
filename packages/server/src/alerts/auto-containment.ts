import { KeywardError } from '@keyward/wire';
import { autoContains } from '../policy/policy.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { IncidentService } from '../service/incident-service.js';
import type { KeyDirectory } from '../service/key-directory.js';
import type { AlertRecord } from '../store/alert-records.js';

/**
 * Automatic containment (docs/incident-response.md): when an alert is raised
 * about a key whose class the policy lists for that alert type
 * (`incidents.autoContain`), Keyward opens a key-compromise incident itself —
 * the version the alert names, else the primary — and runs the playbook.
 * An incident already open for the key is reused, so a repeating alert does
 * not compromise version after version.
 */
export class AutoContainment {
  readonly #policy: PolicySource;
  readonly #directory: KeyDirectory;
  readonly #incidents: IncidentService;
  readonly #onError: (error: unknown) => void;
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: { policy: PolicySource; directory: KeyDirectory; incidents: IncidentService; onError: (error: unknown) => void }) {
    this.#policy = deps.policy;
    this.#directory = deps.directory;
    this.#incidents = deps.incidents;
    this.#onError = deps.onError;
  }

  /** The alert engine's raised-alert listener: contains in the background. */
  readonly onRaised = (alert: AlertRecord): void => {
    const work = this.#contain(alert)
      .catch(this.#onError)
      .finally(() => this.#pending.delete(work));
    this.#pending.add(work);
  };

  /** Resolves once every containment started so far has finished (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #contain(alert: AlertRecord): Promise<void> {
    const { namespace, key: name, version } = alert.subject;
    if (namespace === null || name === null) return;
    let keyClass: string;
    try {
      keyClass = (await this.#directory.load(namespace, name)).record.class;
    } catch (error) {
      // The key was deleted since: nothing to contain.
      if (error instanceof KeywardError && error.code === 'not_found') return;
      throw error;
    }
    if (!autoContains(this.#policy.current(), keyClass as Parameters<typeof autoContains>[1], alert.type)) return;
    await this.#incidents.openFromAlert({
      alertId: alert.id,
      type: alert.type,
      namespace,
      key: name,
      version,
      reason: `automatic containment (${alert.type}): ${alert.summary}`,
    });
  }
}
