import type { AuditRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';

/** A use of a key version to count with the record that describes it. */
export interface VersionUse {
  keyId: string;
  version: number;
}

interface Pending {
  record: AuditRecord;
  use: VersionUse | null;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The audit seam: every request's record goes through here, so the
 * tamper-evident chain of a later issue plugs in without touching call sites.
 *
 * Records of requests that change no state are group-committed: all records
 * queued while one commit runs go in the next, in one transaction, together
 * with the use counts of the versions they used. `record()` resolves only
 * once its record is durable, so a response is never sent before its record.
 * Records of state changes are written with {@link AuditLog.recordIn} inside
 * the change's own transaction.
 */
export class AuditLog {
  readonly #store: Store;
  #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Queues a record (and a version use) and resolves once both are committed. */
  record(record: AuditRecord, use: VersionUse | null = null): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, use, resolve, reject });
      if (this.#flushing === null) this.#flushing = this.#drain();
    });
  }

  /** Writes a record inside the caller's transaction. */
  recordIn(tx: StoreOps, record: AuditRecord): Promise<void> {
    return tx.appendAudit([record]);
  }

  /** Resolves once every record queued so far is committed. */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  async #drain(): Promise<void> {
    // Let the requests that arrive in this turn of the event loop join the batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#store.transaction(async (tx) => {
          await tx.appendAudit(batch.map((p) => p.record));
          for (const [id, count] of countUses(batch)) {
            const [keyId, version] = splitUseId(id);
            await tx.addUses(keyId, version, count);
          }
        });
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.#flushing = null;
  }
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
