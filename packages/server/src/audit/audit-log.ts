import { AsyncResource } from 'node:async_hooks';
import { auditRecordHash, signAuditCheckpoint } from '@keyward/crypto';
import { type AuditChainHead, type AuditCheckpointView, KeywardError } from '@keyward/wire';
import type { Clock } from '../service/clock.js';
import type { AuditRecord, ChainedAuditRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import { AuditSecrets } from './audit-secrets.js';
import { type AuditFileSink, recordView } from './file-sink.js';

/** A use of a key version to count with the record that describes it. */
export interface VersionUse {
  keyId: string;
  version: number;
}

/** Told of every group commit: how many records, how long it took (seconds), and whether it committed. */
export type AuditWriteListener = (records: number, seconds: number, ok: boolean) => void;

/** When a node signs a checkpoint of every chain's head. */
export interface CheckpointPolicy {
  /** After this many records of this node since its last checkpoint. */
  everyRecords: number;
  /** Or after this long, if it wrote any record since (checked by {@link AuditLog.tick}). */
  everyMs: number;
}

export const DEFAULT_CHECKPOINTS: CheckpointPolicy = Object.freeze({ everyRecords: 1000, everyMs: 60_000 });

export interface AuditLogOptions {
  store: Store;
  /** This node's chain (docs/audit.md: one chain per node). */
  node: string;
  clock: Clock;
  secrets: AuditSecrets;
  checkpoints?: Partial<CheckpointPolicy>;
  /** A JSON-lines copy of this node's chain, when configured. */
  sink?: AuditFileSink | null;
  /** Errors of background work (checkpoints, sink recovery); the work is retried on the next tick. */
  onError?: (error: unknown) => void;
}

interface Pending {
  record: AuditRecord;
  use: VersionUse | null;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What {@link AuditLog.recordIn} gives back: resolves once the record is durable everywhere, after the transaction commits. */
export interface Recorded {
  durable: Promise<void>;
}

const UNAVAILABLE = 'the audit trail cannot be written, so the operation was refused; nothing was changed';

/**
 * The audit trail: every request's record goes through here.
 *
 * Each record joins this node's hash chain (docs/audit.md): it gets the next
 * position, the previous record's hash and its own SHA-256 hash over a
 * canonical encoding, and sensitive values are HMAC'd with the installation's
 * audit salt. The chain head is locked in the store for the rest of the
 * writing transaction, so one node's appends take turns while other nodes'
 * chains do not wait.
 *
 * Records of requests that change no state are group-committed: all records
 * queued while one commit is being written go in the next, in one
 * transaction, together with the use counts of the versions they used; the
 * next commit is written while the previous one waits for the disk. `record()` resolves only
 * once its record is durable (committed, and in the file sink when there is
 * one), so a response is never sent before its record. Records of state
 * changes are written with {@link recordIn} inside the change's own
 * transaction. A record that cannot be written fails its request with 503
 * `unavailable` (fail closed), and a state change then rolls back.
 *
 * Every `everyRecords` records, or `everyMs` after the last checkpoint if
 * anything was written since, the node signs a checkpoint naming every
 * chain's head with the Ed25519 audit key.
 */
export class AuditLog {
  readonly node: string;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #secrets: AuditSecrets;
  readonly #policy: CheckpointPolicy;
  readonly #sink: AuditFileSink | null;
  readonly #onError: (error: unknown) => void;
  #queue: Pending[] = [];
  /** Group commits started and not finished (each settles, never rejects). */
  readonly #writes = new Set<Promise<void>>();
  /** A group commit is still chaining its records: the next one waits, then queues behind its commit. */
  #appending = false;
  #scheduled = false;
  #inFlight = 0;
  readonly #writeListeners: AuditWriteListener[] = [];
  #sinceCheckpoint = 0;
  #lastCheckpointAt: number;
  #checkpointing: Promise<AuditCheckpointView | null> | null = null;

  constructor(options: AuditLogOptions) {
    this.node = options.node;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#secrets = options.secrets;
    this.#policy = Object.freeze({ ...DEFAULT_CHECKPOINTS, ...options.checkpoints });
    this.#sink = options.sink ?? null;
    this.#onError = options.onError ?? (() => {});
    this.#lastCheckpointAt = this.#clock.now().getTime();
  }

  /** The JSON-lines copy of this node's chain, when configured. */
  get sink(): AuditFileSink | null {
    return this.#sink;
  }

  /** Records waiting for a group commit (queued, or in commits running now). */
  get backlog(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** Calls `listener` after every group commit (success or failure). */
  onWrite(listener: AuditWriteListener): void {
    this.#writeListeners.push(listener);
  }

  /** Throws 503 `unavailable` while a record could not be kept (the file sink failed): refuse before acting. */
  assertWritable(): void {
    if (this.#sink?.failed) throw new KeywardError('unavailable', UNAVAILABLE);
  }

  /** Queues a record (and a version use) and resolves once both are committed and durable. */
  record(record: AuditRecord, use: VersionUse | null = null): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, use, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Writes a record inside the caller's transaction (call it last, after the
   * state change's own writes: the chain head is locked until commit).
   */
  async recordIn(tx: StoreOps, record: AuditRecord): Promise<Recorded> {
    let chained: ChainedAuditRecord[];
    try {
      chained = await this.#append(tx, [record]);
    } catch (error) {
      throw this.#unavailable(error);
    }
    const durable = new Promise<void>((resolve, reject) => {
      tx.afterTransaction((committed) => {
        if (!committed) resolve();
        else this.#committed(chained).then(resolve, reject);
      });
    });
    // The caller may not wait (scheduler jobs); failures are then reported through onError.
    durable.catch(this.#onError);
    return { durable };
  }

  /** Resolves once every record queued so far is committed. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#writes.size > 0) {
      if (this.#writes.size > 0) await Promise.all(this.#writes);
      else await nextTurn();
    }
  }

  /** Resolves once queued records are committed and a checkpoint being signed is stored (tests; shutdown). */
  async idle(): Promise<void> {
    await this.flush();
    await this.#checkpointing?.catch(() => null);
  }

  /**
   * Periodic work (main.ts runs it every few seconds; tests call it after
   * moving the clock): recovers a failed file sink from the store, and signs
   * a checkpoint when one is due by time.
   */
  async tick(): Promise<void> {
    if (this.#sink?.failed) await this.#sink.recover();
    const due = this.#clock.now().getTime() - this.#lastCheckpointAt >= this.#policy.everyMs;
    if (this.#sinceCheckpoint > 0 && due) await this.checkpoint();
  }

  /**
   * Signs and stores a checkpoint of every chain's head now; null while
   * sealed (the audit key is under the seal) or when there is no record yet.
   */
  checkpoint(): Promise<AuditCheckpointView | null> {
    if (this.#checkpointing === null) {
      this.#checkpointing = this.#checkpoint().finally(() => {
        this.#checkpointing = null;
      });
    }
    return this.#checkpointing;
  }

  async #checkpoint(): Promise<AuditCheckpointView | null> {
    const secrets = await this.#secrets.load();
    if (secrets === null) return null;
    const written = this.#sinceCheckpoint;
    const time = this.#clock.now();
    const checkpoint = await this.#store.transaction(async (tx) => {
      const heads: AuditChainHead[] = await tx.auditHeads();
      if (heads.length === 0) return null;
      const unsigned = { time: time.toISOString(), node: this.node, heads, keyId: secrets.signer.keyId };
      const signature = signAuditCheckpoint(secrets.signer.privateKey, unsigned);
      const id = await tx.insertAuditCheckpoint({ ...unsigned, signature });
      return { id, ...unsigned, signature };
    });
    this.#sinceCheckpoint = Math.max(0, this.#sinceCheckpoint - written);
    this.#lastCheckpointAt = time.getTime();
    if (checkpoint !== null && this.#sink !== null) await this.#sink.acceptCheckpoint(checkpoint);
    return checkpoint;
  }

  /** Chains `records` after this node's head (locked for the rest of `tx`) and writes them. */
  async #append(tx: StoreOps, records: readonly AuditRecord[]): Promise<ChainedAuditRecord[]> {
    // Loaded at start and at unseal (never inside this transaction: loading reads the store).
    const salt = this.#secrets.peek()?.salt ?? null;
    let head = await tx.lockAuditHead(this.node);
    const chained: ChainedAuditRecord[] = [];
    // Object literals, not spreads: copying a record by spread cost ~2.5 µs each here, a literal ~30 ns.
    for (const r of records) {
      const chainedRecord: ChainedAuditRecord = {
        time: r.time,
        actor: r.actor,
        action: r.action,
        namespace: r.namespace,
        key: r.key,
        keyVersion: r.keyVersion,
        outcome: r.outcome,
        errorCode: r.errorCode,
        requestId: r.requestId,
        source: r.source,
        details: r.sensitive === undefined ? r.details : { ...r.details, ...hashed(r.sensitive, salt) },
        chain: this.node,
        chainSeq: head.seq + 1,
        prevHash: head.hash,
        hash: '',
      };
      // The hash covers the record's public form (docs/formats.md), all of it but the hash.
      chainedRecord.hash = auditRecordHash(recordView(chainedRecord));
      chained.push(chainedRecord);
      head = { chain: this.node, seq: chainedRecord.chainSeq, hash: chainedRecord.hash };
    }
    await tx.appendAudit(chained);
    return chained;
  }

  /** After a commit: the file sink, and checkpoint accounting. */
  async #committed(records: readonly ChainedAuditRecord[]): Promise<void> {
    this.#sinceCheckpoint += records.length;
    if (this.#sinceCheckpoint >= this.#policy.everyRecords) this.checkpoint().catch(this.#onError);
    if (this.#sink !== null) {
      try {
        await this.#sink.accept(records);
      } catch (error) {
        throw this.#unavailable(error);
      }
    }
  }

  #unavailable(error: unknown): KeywardError {
    if (error instanceof KeywardError) return error;
    this.#onError(error);
    return new KeywardError('unavailable', UNAVAILABLE);
  }

  /**
   * Starts the next group commit after this turn of the event loop (so that
   * the requests arriving in it join the batch), unless one is still
   * chaining its records. Commits overlap: a batch starts as soon as the
   * previous one has appended its records, and queues behind its commit (the
   * store's write lock, the chain head's row lock), so the next batch is
   * written while the previous one waits for its flush to disk.
   */
  #schedule(): void {
    if (this.#scheduled || this.#appending || this.#queue.length === 0) return;
    this.#scheduled = true;
    this.#startNextTurn();
  }

  /**
   * Bound to the async context this log was made in: the next batch is often
   * scheduled from inside the previous batch's transaction callback, whose
   * context would otherwise carry over and make the store refuse the new
   * transaction as nested.
   */
  readonly #startNextTurn = AsyncResource.bind(() => {
    setImmediate(() => {
      this.#scheduled = false;
      this.#startBatch();
    });
  });

  #startBatch(): void {
    if (this.#appending || this.#queue.length === 0) return;
    this.#appending = true;
    let appended = false;
    const release = () => {
      if (appended) return;
      appended = true;
      this.#appending = false;
      this.#schedule();
    };
    const write = this.#write(release).finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }

  /** Takes every queued record: the batch of one group commit. */
  #take(): Pending[] {
    const batch = this.#queue;
    this.#queue = [];
    this.#inFlight += batch.length;
    return batch;
  }

  /**
   * One group commit; settles its requests' promises and never rejects
   * itself. The batch is taken once the transaction has begun, holding the
   * write lock: on SQLite with several workers, records queued while
   * another process held the lock join this commit instead of waiting for
   * the next one (fewer, larger commits: each costs the same begin, WAL
   * frames and flush whatever its size).
   */
  async #write(appended: () => void): Promise<void> {
    let batch: Pending[] = [];
    let taken = false;
    const started = process.hrtime.bigint();
    let ok = false;
    try {
      const chained = await this.#store.transaction(async (tx) => {
        batch = this.#take();
        taken = true;
        // Use counts first, in one global order (key id, then version): batches of two processes
        // that touch the same versions lock their rows in the same order, and every transaction
        // takes the chain head last, so they cannot deadlock.
        for (const [id, count] of [...countUses(batch)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          const [keyId, version] = splitUseId(id);
          await tx.addUses(keyId, version, count);
        }
        const records = await this.#append(
          tx,
          batch.map((p) => p.record),
        );
        appended();
        return records;
      });
      ok = true;
      await this.#committed(chained);
      for (const p of batch) p.resolve();
    } catch (error) {
      // A transaction that never began (the write lock did not come in time) refuses what was waiting for it.
      if (!taken) batch = this.#take();
      const refused = this.#unavailable(error);
      for (const p of batch) p.reject(refused);
    } finally {
      appended();
      this.#inFlight -= batch.length;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      for (const listener of this.#writeListeners) listener(batch.length, seconds, ok);
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Sensitive values as `hmac-sha256:<hex>` under the audit salt; `redacted` when the salt is unavailable (sealed). */
function hashed(sensitive: Readonly<Record<string, Uint8Array>>, salt: Buffer | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sensitive)) out[name] = salt === null ? 'redacted' : AuditSecrets.hmac(salt, value);
  return out;
}

function countUses(batch: readonly Pending[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { use } of batch) {
    if (use === null) continue;
    const id = `${use.keyId}\0${use.version}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function splitUseId(id: string): [string, number] {
  const at = id.lastIndexOf('\0');
  return [id.slice(0, at), Number(id.slice(at + 1))];
}
