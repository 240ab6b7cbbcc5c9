import { type FileHandle, open } from 'node:fs/promises';
import type { AuditChainHead, AuditCheckpointView, AuditLine, AuditRecordView } from '@keyward/wire';
import type { ChainedAuditRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/** The public form of a stored record (drops the store's insertion cursor). */
export function recordView(r: ChainedAuditRecord): AuditRecordView {
  return {
    chain: r.chain,
    seq: r.chainSeq,
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
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

export function recordLine(r: ChainedAuditRecord): string {
  return `${JSON.stringify({ type: 'record', ...recordView(r) })}\n`;
}

export function checkpointLine(c: AuditCheckpointView): string {
  return `${JSON.stringify({ type: 'checkpoint', ...c })}\n`;
}

/** How much of the file's end is read at start to find where the chain stands. */
const TAIL_BYTES = 1 << 20;

interface Waiter {
  /** Whether what it waits for is in the file. */
  done: () => boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A second copy of this node's chain: an append-only JSON-lines file, each
 * write fsync'd (`fdatasync`) before the requests it records are answered.
 *
 * The file follows the store's chain: records are handed over once their
 * transaction commits, possibly out of order (two transactions of one node
 * commit in either order after taking turns on the chain head), and written
 * strictly in chain order. Checkpoints follow the records they name. If the
 * file starts after the chain's first record (the sink was turned on later),
 * its first line is an `anchor` naming the record it continues from.
 *
 * A write that fails marks the sink failed: the audit log then refuses every
 * operation (fail closed) until {@link recover} has caught the file up from
 * the store.
 */
export class AuditFileSink {
  readonly path: string;
  readonly #chain: string;
  readonly #store: Store;
  #file: FileHandle;
  /** The last record of the chain the file holds. */
  #seq: number;
  readonly #pending = new Map<number, ChainedAuditRecord>();
  #checkpoints: AuditCheckpointView[] = [];
  #waiters: Waiter[] = [];
  #writing: Promise<void> | null = null;
  #failure: unknown = null;
  /** The file's length after the last synced write: a failed write's partial line is cut back to it on recovery. */
  #syncedBytes = 0;

  private constructor(path: string, chain: string, store: Store, file: FileHandle, seq: number) {
    this.path = path;
    this.#chain = chain;
    this.#store = store;
    this.#file = file;
    this.#seq = seq;
  }

  /**
   * Opens (or creates, mode 0600) the file and brings it level with the
   * store's chain. Refuses a file that is ahead of the store or disagrees
   * with it: that file belongs to another database or the database was
   * rolled back, and an operator must look.
   */
  static async open(path: string, chain: string, store: Store): Promise<AuditFileSink> {
    const file = await open(path, 'a+', 0o600);
    try {
      const sink = new AuditFileSink(path, chain, store, file, 0);
      await sink.#catchUp();
      return sink;
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** The last record of this node's chain written and synced to the file. */
  get writtenSeq(): number {
    return this.#seq;
  }

  /** This node's chain: the only one the file holds records of. */
  get chain(): string {
    return this.#chain;
  }

  /** Whether the last write failed (then the audit log refuses operations). */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Takes committed records of this node's chain; resolves once they are in the file and synced. */
  accept(records: readonly ChainedAuditRecord[]): Promise<void> {
    const last = records.at(-1);
    if (last === undefined) return Promise.resolve();
    // Kept even while failed: recovery writes them after what it copies from the store.
    for (const record of records) if (record.chainSeq > this.#seq) this.#pending.set(record.chainSeq, record);
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return this.#wait(() => this.#seq >= last.chainSeq);
  }

  /** Takes a committed checkpoint; it is written after the records of this chain it names. */
  acceptCheckpoint(checkpoint: AuditCheckpointView): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#checkpoints.push(checkpoint);
    return this.#wait(() => !this.#checkpoints.includes(checkpoint));
  }

  /** After a failure: reopens the file and copies what it missed from the store. */
  async recover(): Promise<void> {
    if (this.#failure === null) return;
    if (this.#writing !== null) await this.#writing.catch(() => {});
    await this.#file.close().catch(() => {});
    this.#file = await open(this.path, 'a+', 0o600);
    await this.#file.truncate(this.#syncedBytes);
    this.#checkpoints = [];
    await this.#catchUp();
    for (const seq of this.#pending.keys()) if (seq <= this.#seq) this.#pending.delete(seq);
    this.#failure = null;
    if (this.#pending.size > 0 && this.#writing === null) this.#writing = this.#drain();
  }

  async close(): Promise<void> {
    if (this.#writing !== null) await this.#writing.catch(() => {});
    await this.#file.close();
  }

  #coveredSeq(checkpoint: AuditCheckpointView): number {
    return checkpoint.heads.find((h) => h.chain === this.#chain)?.seq ?? 0;
  }

  #wait(done: () => boolean): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => {
      if (done()) resolve();
      else this.#waiters.push({ done, resolve, reject });
    });
    if (this.#writing === null) this.#writing = this.#drain();
    return promise;
  }

  async #drain(): Promise<void> {
    try {
      for (;;) {
        let text = '';
        let seq = this.#seq;
        const written: AuditCheckpointView[] = [];
        for (;;) {
          const next = this.#pending.get(seq + 1);
          if (next !== undefined) {
            this.#pending.delete(seq + 1);
            text += recordLine(next);
            seq += 1;
            continue;
          }
          const ready = this.#checkpoints.findIndex((c) => !written.includes(c) && this.#coveredSeq(c) <= seq);
          if (ready < 0) break;
          const checkpoint = this.#checkpoints[ready] as AuditCheckpointView;
          written.push(checkpoint);
          text += checkpointLine(checkpoint);
        }
        if (text === '') break;
        await this.#append(text);
        this.#seq = seq;
        this.#checkpoints = this.#checkpoints.filter((c) => !written.includes(c));
        this.#release();
      }
    } catch (error) {
      this.#failure = error;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(error);
    } finally {
      this.#writing = null;
    }
  }

  #release(): void {
    const waiting: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.done()) w.resolve();
      else waiting.push(w);
    }
    this.#waiters = waiting;
  }

  /** Finds where the file stands, then appends what the store has beyond it. */
  async #catchUp(): Promise<void> {
    const tail = await this.#tail();
    const head = (await this.#store.auditHeads()).find((h) => h.chain === this.#chain) ?? { chain: this.#chain, seq: 0, hash: '' };
    if (tail === null) {
      // A new (or empty) file picks the chain up at its head.
      if (head.seq > 0) {
        await this.#append(`${JSON.stringify({ type: 'anchor', ...head })}\n`);
      }
      this.#seq = head.seq;
      return;
    }
    if (tail.seq > head.seq) {
      throw new Error(
        `audit file ${this.path} holds chain '${this.#chain}' up to record ${tail.seq} but the store only to ${head.seq}: it belongs to another database, or the database was rolled back; move the file aside`,
      );
    }
    let seq = tail.seq;
    let hash = tail.hash;
    while (seq < head.seq) {
      const batch = await this.#store.listAuditChain(this.#chain, seq, 1000);
      if (batch.length === 0) break;
      let text = '';
      for (const record of batch) {
        if (record.chainSeq !== seq + 1 || record.prevHash !== hash) {
          throw new Error(
            `audit file ${this.path} disagrees with the store at record ${seq + 1} of chain '${this.#chain}'; move the file aside`,
          );
        }
        text += recordLine(record);
        seq = record.chainSeq;
        hash = record.hash;
      }
      await this.#append(text);
    }
    if (seq === head.seq && hash !== head.hash) {
      throw new Error(`audit file ${this.path} disagrees with the store at record ${seq} of chain '${this.#chain}'; move the file aside`);
    }
    this.#seq = seq;
  }

  async #append(text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    await this.#file.appendFile(bytes);
    await this.#file.datasync();
    this.#syncedBytes += bytes.length;
  }

  /** The last record (or anchor) of this chain in the file; null for an empty file. */
  async #tail(): Promise<AuditChainHead | null> {
    const { size } = await this.#file.stat();
    this.#syncedBytes = size;
    if (size === 0) return null;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await this.#file.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i -= 1) {
      const line = lines[i];
      if (line === undefined || line.trim() === '' || (i === 0 && length < size)) continue;
      let parsed: AuditLine;
      try {
        parsed = JSON.parse(line) as AuditLine;
      } catch {
        throw new Error(`audit file ${this.path} ends with a line that is not JSON (a torn write?); verify it and move it aside`);
      }
      if ((parsed.type === 'record' || parsed.type === 'anchor') && parsed.chain === this.#chain) {
        return { chain: parsed.chain, seq: parsed.seq, hash: parsed.hash };
      }
    }
    throw new Error(`audit file ${this.path} has no record of chain '${this.#chain}' in its last ${TAIL_BYTES} bytes; start a new file`);
  }
}
