import type { Change } from '../store/change.js';

/**
 * What one worker tells every other worker, through the primary. The
 * primary answers the sender only once every other live worker has applied
 * the event, so whatever the sender does next (answer its client) happens
 * after all of them did.
 *
 * Shares are secret: they travel only over the cluster's IPC channel (V8
 * serialization, so as bytes the primary can zero), are kept by the primary
 * only in memory, and are never logged.
 */
export type PeerEvent =
  /** Committed changes: drop what is cached of them (as PostgreSQL NOTIFY does between nodes). */
  | { type: 'changes'; changes: Change[] }
  /** Changes may have been lost (a worker died between its commit and its relay): drop every cache. */
  | { type: 'reset' }
  /** POST /v1/sys/seal on one worker: every worker seals. */
  | { type: 'sealed' }
  /** POST /v1/sys/init on one worker (Shamir): the others load the new seal state and unseal with a threshold of shares. */
  | { type: 'initialized'; shares: Uint8Array[] }
  /** An unseal share that changed the sender's seal: progress, or unsealed, or (`reset`) a wrong share discarded the progress. */
  | { type: 'share'; share: Uint8Array; reset: boolean }
  /**
   * Sent by the primary alone, to a worker that just joined: the seal state
   * the others are in (sealed by an operator; the shares that unsealed them).
   */
  | { type: 'state'; sealed: boolean; shares: Uint8Array[] };

/** The requests a worker makes of the primary, and what each answers. */
export interface Requests {
  /** Relay an event to every other worker; answers once all have applied it. */
  broadcast: { event: PeerEvent; answer: null };
  /** May this worker initialize the Shamir seal? False when another worker is doing it, or did. */
  'claim-init': { answer: boolean };
  /** This worker's initialization failed: another may try. */
  'release-init': { answer: null };
  /** This worker has opened its seal and listens for events: send it the cluster's seal state (as a `state` event). */
  join: { answer: null };
  /** Every worker's metrics, in one Prometheus text exposition (each series labelled with its worker). */
  metrics: { answer: string };
}

export type RequestName = keyof Requests;

/** Worker → primary. */
export type WorkerMessage =
  /** The worker listens for events (IPC messages that arrive before a listener are lost). */
  | { kw: 'hello' }
  | { kw: 'request'; id: number; name: RequestName; event?: PeerEvent }
  | { kw: 'applied'; id: number }
  /** This worker's metrics, answering a `collect`. */
  | { kw: 'metrics'; id: number; text: string }
  | { kw: 'ready' }
  | { kw: 'failed'; message: string };

/** Primary → worker. */
export type PrimaryMessage =
  | { kw: 'answer'; id: number; value: unknown }
  | { kw: 'event'; id: number; event: PeerEvent }
  /** Send your metrics (for a scrape another worker is answering). */
  | { kw: 'collect'; id: number }
  | { kw: 'stop' };

/** Names the worker processes (environment of `cluster.fork`): the slot, 1…N, stable across restarts of that slot. */
export const SLOT_ENV = 'KEYWARD_WORKER_SLOT';

/** IPC carries other modules' messages too (and cluster's own); ours carry `kw`. */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && typeof (message as { kw?: unknown }).kw === 'string';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return typeof message === 'object' && message !== null && typeof (message as { kw?: unknown }).kw === 'string';
}
