import type { Store } from '../store/store.js';

export interface HubListener {
  /** New events may be there. */
  wake(): void;
  /** The node is shutting down: stop. */
  close(): void;
}

/**
 * Notices new rows in the `events` table and wakes whoever waits for them
 * (Server-Sent Event streams). One poll of `lastEventId()` per interval, for
 * the whole node and only while someone listens, so idle streams cost
 * nothing per stream; events committed by other nodes on the same
 * PostgreSQL database arrive the same way.
 */
export class EventHub {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #listeners = new Set<HubListener>();
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  #lastSeen = -1;
  #generation = 0;

  constructor(store: Store, pollMs: number) {
    this.#store = store;
    this.#pollMs = pollMs;
  }

  /** Increases each time new events were seen (or the hub closed); read it before a query, compare after. */
  get generation(): number {
    return this.#generation;
  }

  /** Calls `listener.wake` whenever new events may be there; returns a function that stops listening. */
  listen(listener: HubListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === null) {
      this.#timer = setInterval(() => void this.poll(), this.#pollMs);
      this.#timer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  /** One look at the newest event id; wakes listeners when it moved. A failed look is retried on the next tick. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const id = await this.#store.lastEventId();
      if (id !== this.#lastSeen) {
        this.#lastSeen = id;
        this.#wake();
      }
    } catch {
      // The database is briefly unreachable: the next tick tries again.
    } finally {
      this.#polling = false;
    }
  }

  /** Closes every listener (server shutdown) and stops polling; later listeners start it again. */
  close(): void {
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const listener of listeners) listener.close();
  }

  #wake(): void {
    this.#generation++;
    for (const listener of [...this.#listeners]) listener.wake();
  }
}
