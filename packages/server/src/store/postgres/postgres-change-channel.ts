import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { type Change, type ChangeListener, parseChange } from '../change.js';
import type { ChangeChannel } from '../change-channel.js';
import type { Database } from '../schema.js';

const CHANNEL = 'keyward_changes';
/** Advisory lock key of the scheduler: the first 8 bytes of SHA-256("keyward-scheduler") would do; any fixed bigint works. */
const SCHEDULER_LOCK = 0x6b65797761726401n;
const RECONNECT_MS = 1000;

/**
 * Changes between nodes over PostgreSQL LISTEN/NOTIFY. NOTIFY is
 * transactional, so a change arrives only if it committed. While the
 * listening connection is down the channel is unreliable (caches read
 * through), and when it comes back listeners get a `reset`, since changes
 * may have been missed in between.
 */
export class PostgresChangeChannel implements ChangeChannel {
  readonly #connectionString: string;
  readonly #listeners = new Set<ChangeListener>();
  #client: pg.Client | null = null;
  #connected = false;
  #leader = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(connectionString: string) {
    this.#connectionString = connectionString;
  }

  async announce(db: Kysely<Database>, change: Change): Promise<void> {
    await sql`select pg_notify(${CHANNEL}, ${JSON.stringify(change)})`.execute(db);
  }

  listen(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    if (this.#client === null && !this.#closed) void this.#connect();
    return () => this.#listeners.delete(listener);
  }

  reliable(): boolean {
    return this.#connected;
  }

  /**
   * The scheduler lock is a session-level advisory lock held by the
   * listening connection: it is released if this node dies or loses the
   * connection, and another node takes it on its next run.
   */
  async leader(): Promise<boolean> {
    if (this.#client === null && !this.#closed) void this.#connect();
    await this.ready();
    const client = this.#client;
    if (client === null || !this.#connected) return false;
    if (this.#leader) return true;
    try {
      const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [SCHEDULER_LOCK.toString()]);
      this.#leader = result.rows[0]?.locked === true;
    } catch {
      this.#leader = false;
    }
    return this.#leader;
  }

  /** Resolves once the listening connection is up, or after `timeoutMs` (then `reliable()` is still false). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#connected && !this.#closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString });
    this.#client = client;
    const lost = () => {
      if (this.#client !== client) return;
      this.#connected = false;
      this.#leader = false;
      this.#client = null;
      client.removeAllListeners();
      void client.end().catch(() => {});
      if (!this.#closed) this.#timer = setTimeout(() => void this.#connect(), RECONNECT_MS);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === CHANNEL) this.#emit(parseChange(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.#closed) return void (await client.end());
      this.#connected = true;
      this.#emit({ kind: 'reset' });
    } catch {
      lost();
    }
  }

  #emit(event: Parameters<ChangeListener>[0]): void {
    for (const listener of this.#listeners) listener(event);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#connected = false;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
