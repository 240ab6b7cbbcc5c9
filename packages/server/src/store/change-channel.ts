import type { Kysely } from 'kysely';
import type { Change, ChangeListener } from './change.js';
import type { Database } from './schema.js';

/** How a dialect carries changes between nodes. */
export interface ChangeChannel {
  /** Sends `change` through `db` (a transaction: delivered on commit). */
  announce(db: Kysely<Database>, change: Change): Promise<void>;
  listen(listener: ChangeListener): () => void;
  reliable(): boolean;
  close(): Promise<void>;
}

/** A single-node store has no other node to tell. */
export const singleNodeChannel: ChangeChannel = Object.freeze({
  announce: async () => {},
  listen: () => () => {},
  reliable: () => true,
  close: async () => {},
});
