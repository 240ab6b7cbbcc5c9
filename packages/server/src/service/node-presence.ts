import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { IncidentAckRecord } from '../store/incident-records.js';
import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';

/** Open incidents one acknowledgement pass looks at (there are few at any time). */
const MAX_OPEN = 1000;

/**
 * This node's place among the nodes sharing the database, for incident
 * containment: nodes announce themselves (`keyward_nodes`, refreshed by
 * {@link heartbeat}), and when a node has dropped what it cached of a key it
 * acknowledges every open incident of that key. The playbook waits, for a
 * bounded time, until every node alive at the declaration has acknowledged.
 */
export class NodePresence {
  /** Host, process and a random suffix: readable in an incident record, unique per start. */
  readonly id = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #startedAt: string;

  constructor(store: Store, clock: Clock, ttlMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#startedAt = clock.now().toISOString();
  }

  /** Announces (or refreshes) this node. */
  async heartbeat(): Promise<void> {
    await this.#store.heartbeatNode({ id: this.id, startedAt: this.#startedAt, lastSeenAt: this.#clock.now().toISOString() });
  }

  /** Ids of the nodes seen within the liveness window, this one included (it announces itself first). */
  async live(): Promise<string[]> {
    await this.heartbeat();
    const since = new Date(this.#clock.now().getTime() - this.#ttlMs).toISOString();
    const ids = new Set((await this.#store.liveNodes(since)).map((n) => n.id));
    ids.add(this.id);
    return [...ids].sort();
  }

  /** Forgets this node (at shutdown), so containment does not wait for it. */
  async leave(): Promise<void> {
    await this.#store.removeNode(this.id);
  }

  /** This node's acknowledgement, timed now. */
  ack(incidentId: string): IncidentAckRecord {
    return { incidentId, node: this.id, ackedAt: this.#clock.now().toISOString() };
  }

  /**
   * Called right after this node dropped its cached state of key `keyId`
   * (a change announced by another node), or of every key (`null`: the
   * change listener reconnected and caches were reset). Acknowledges the
   * open incidents of that key; after a reset, those that wait for this node.
   * The time is taken first, when the caches were dropped.
   */
  async acknowledge(keyId: string | null): Promise<number> {
    const at = this.#clock.now().toISOString();
    const open = await this.#store.listOpenIncidents(keyId, MAX_OPEN);
    let acked = 0;
    for (const incident of open) {
      if (keyId === null && !incident.expectedNodes.includes(this.id)) continue;
      await this.#store.ackIncident({ incidentId: incident.id, node: this.id, ackedAt: at });
      acked++;
    }
    return acked;
  }
}
