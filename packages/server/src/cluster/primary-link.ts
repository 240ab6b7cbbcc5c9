import type { ChangeListener } from '../store/change.js';
import { isPrimaryMessage, type PeerEvent, type RequestName, type Requests, type WorkerMessage } from './messages.js';

/** Seal events: sealed, initialized, share, state. */
export type SealEvent = Exclude<PeerEvent, { type: 'changes' } | { type: 'reset' }>;

/**
 * A worker's side of the cluster's IPC channel: requests to the primary,
 * and the events other workers relay through it.
 *
 * Events are applied one at a time in the order the primary sent them, and
 * acknowledged only once applied: the primary answers the worker that sent
 * an event when every other worker has acknowledged it.
 */
export class PrimaryLink {
  /** This worker's slot, 1…N (its audit chain is NODE-wSLOT). */
  readonly slot: number;
  #nextId = 1;
  readonly #answers = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #applying: Promise<void> = Promise.resolve();
  readonly #changeListeners = new Set<ChangeListener>();
  #sealHandler: ((event: SealEvent) => Promise<void>) | null = null;
  #stopHandler: (() => void) | null = null;
  #collector: (() => Promise<string>) | null = null;
  #onError: (error: unknown) => void = () => {};

  constructor(slot: number) {
    this.slot = slot;
    process.on('message', (message) => this.#receive(message));
    // From now on events reach this worker; it has cached nothing yet.
    void this.#send({ kw: 'hello' }).catch(() => {});
  }

  /** False once the primary is gone: nothing relayed can reach this worker any more. */
  get connected(): boolean {
    return process.connected;
  }

  /** Errors while applying an event (it is acknowledged anyway: a worker that cannot apply a change has nothing of it cached). */
  set onError(handler: (error: unknown) => void) {
    this.#onError = handler;
  }

  /** Relayed changes (and resets) go to `listener`. */
  onChanges(listener: ChangeListener): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /**
   * Seal events go to `handler`. Before one is set they are acknowledged
   * unapplied: the `state` event answering {@link join} carries their result.
   */
  onSealEvent(handler: (event: SealEvent) => Promise<void>): void {
    this.#sealHandler = handler;
  }

  /** Answers the primary's requests for this worker's metrics (an empty exposition until one is set). */
  onCollect(collector: () => Promise<string>): void {
    this.#collector = collector;
  }

  /** Called when the primary asks this worker to stop; before one is set, a stop ends the process at once (nothing is served yet). */
  onStop(handler: () => void): void {
    this.#stopHandler = handler;
  }

  /** Relays `event` to every other worker; resolves once all have applied it. */
  async broadcast(event: PeerEvent): Promise<void> {
    await this.request('broadcast', event);
  }

  /** Asks for the cluster's seal state; resolves once this worker has applied it (call after {@link onSealEvent}). */
  async join(): Promise<void> {
    await this.request('join');
  }

  request<N extends RequestName>(name: N, event?: PeerEvent): Promise<Requests[N]['answer']> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#answers.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#send({ kw: 'request', id, name, ...(event === undefined ? {} : { event }) }).catch((error: Error) => {
        this.#answers.delete(id);
        reject(error);
      });
    });
  }

  /** Tells the primary this worker serves. */
  ready(): void {
    void this.#send({ kw: 'ready' }).catch(() => {});
  }

  /** Tells the primary why this worker could not start (the primary prints it, once). */
  failed(message: string): Promise<void> {
    return this.#send({ kw: 'failed', message }).catch(() => {});
  }

  #send(message: WorkerMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!process.connected || process.send === undefined) return reject(new Error('the primary process is gone'));
      process.send(message, undefined, undefined, (error) => (error ? reject(error) : resolve()));
    });
  }

  #receive(message: unknown): void {
    if (!isPrimaryMessage(message)) return;
    switch (message.kw) {
      case 'answer': {
        const waiter = this.#answers.get(message.id);
        this.#answers.delete(message.id);
        waiter?.resolve(message.value);
        break;
      }
      case 'event': {
        const { id, event } = message;
        this.#applying = this.#applying
          .then(() => this.#apply(event))
          .catch((error: unknown) => this.#onError(error))
          .then(() => this.#send({ kw: 'applied', id }))
          .catch(() => {});
        break;
      }
      case 'collect': {
        const { id } = message;
        void (this.#collector?.() ?? Promise.resolve(''))
          .catch(() => '')
          .then((text) => this.#send({ kw: 'metrics', id, text }))
          .catch(() => {});
        break;
      }
      case 'stop':
        if (this.#stopHandler === null) process.exit(0);
        this.#stopHandler();
        break;
    }
  }

  async #apply(event: PeerEvent): Promise<void> {
    switch (event.type) {
      case 'changes':
        for (const change of event.changes) for (const listener of this.#changeListeners) listener(change);
        return;
      case 'reset':
        for (const listener of this.#changeListeners) listener({ kind: 'reset' });
        return;
      default:
        await this.#sealHandler?.(event);
    }
  }
}
