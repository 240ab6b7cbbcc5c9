import type { Kysely } from 'kysely';
import type { Change, ChangeListener } from './change.js';
import type { Database } from './schema.js';

/** How a dialect carries changes between nodes. */
export interface ChangeChannel {
  /** Sends `change` through `db` (a transaction: delivered on commit). */
  announce(db: Kysely<Database>, change: Change): Promise<void>;
  listen(listener: ChangeListener): () => void;
  reliable(): boolean;
  /** Whether this node holds the scheduler lock (taking it if free). */
  leader(): Promise<boolean>;
  close(): Promise<void>;
}

/** A single-node store has no other node to tell. */
export const singleNodeChannel: ChangeChannel = Object.freeze({
  announce: async () => {},
  listen: () => () => {},
  reliable: () => true,
  leader: async () => true,
  close: async () => {},
});
