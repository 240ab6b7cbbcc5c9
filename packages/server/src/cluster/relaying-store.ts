import type { Change, ChangeListener } from '../store/change.js';
import type { Store, StoreOps } from '../store/store.js';
import type { PrimaryLink } from './primary-link.js';

type Overrides = Pick<Store, 'transaction' | 'announce' | 'onChange' | 'changesReliable' | 'isLeader'>;

/**
 * The store as one worker of `keyward server --workers N` sees it: the same
 * store, plus the other workers.
 *
 * - Changes a transaction announces are relayed, once it has committed, to
 *   every other worker through the primary, and `transaction()` resolves
 *   only when all of them have applied the change (dropped what they cached
 *   of it). A request that changes something therefore answers after every
 *   worker forgot the old state, and any request that follows it, on any
 *   worker, reads the new state: there is no window in which another worker
 *   serves a revoked token, a compromised or destroyed version or a removed
 *   grant from its cache. (On PostgreSQL NOTIFY still tells other machines.)
 * - Changes relayed by other workers reach `onChange` listeners, as NOTIFY
 *   does between nodes.
 * - Caches are trusted only while the primary is there to relay.
 * - On SQLite, worker 1 runs the background jobs (scheduler, webhook
 *   delivery, alerts, incident follow-up); on PostgreSQL the advisory lock
 *   still decides, per worker.
 *
 * A Proxy rather than a class that spells out the store's hundred methods:
 * everything else is the store's own method, bound to the store (its
 * private fields need the real receiver).
 */
export function relayingStore(store: Store, link: PrimaryLink): Store {
  const overrides: Overrides = {
    async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
      const announced: Change[] = [];
      const result = await store.transaction((tx) => fn(recording(tx, announced)));
      if (announced.length > 0) await link.broadcast({ type: 'changes', changes: announced });
      return result;
    },
    async announce(change: Change): Promise<void> {
      await store.announce(change);
      await link.broadcast({ type: 'changes', changes: [change] });
    },
    onChange(listener: ChangeListener): () => void {
      const fromNodes = store.onChange(listener);
      const fromWorkers = link.onChanges(listener);
      return () => {
        fromNodes();
        fromWorkers();
      };
    },
    changesReliable: () => link.connected && store.changesReliable(),
    isLeader: () => (store.dialect === 'sqlite' ? Promise.resolve(link.slot === 1) : store.isLeader()),
  };
  return delegate(store, overrides);
}

/** A transaction that also notes what it announces (sent to the other workers only if it commits). */
function recording(tx: StoreOps, announced: Change[]): StoreOps {
  return delegate(tx, {
    async announce(change: Change): Promise<void> {
      await tx.announce(change);
      announced.push(change);
    },
  });
}

function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof T];
      let value = bound.get(property);
      if (value === undefined) {
        value = Reflect.get(object, property, object);
        if (typeof value !== 'function') return value;
        value = (value as (...args: unknown[]) => unknown).bind(object);
        bound.set(property, value);
      }
      return value;
    },
  });
}
