import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AuditVerifier, encodeContext, verifyAuditLines } from '@keyward/crypto';
import {
  type AuditCheckpointView,
  type AuditFileReport,
  type AuditLine,
  type AuditRecordView,
  type AuditVerifyReport,
  KeywardError,
} from '@keyward/wire';
import type { AuditLog } from '../audit/audit-log.js';
import { AuditSecrets } from '../audit/audit-secrets.js';
import { type AuditFileSink, recordView } from '../audit/file-sink.js';
import { Periodic } from '../scheduler/periodic.js';
import type { AuditQuery } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';

/** Records and checkpoints read from the store per query while verifying or exporting. */
const PAGE = 1000;

export interface AuditEventsPage {
  events: AuditRecordView[];
  nextCursor: string | null;
}

/** What `POST /v1/audit/hash` hashes: a string (as UTF-8) or an encryption context (in its canonical encoding). */
export type HashInput = { value: string } | { context: Record<string, string> };

/**
 * The audit trail for auditors (docs/audit.md): filtered reading, online
 * verification of every chain against the signed checkpoints, the JSON-lines
 * export an offline verifier checks, the audit public key, and the HMAC of a
 * value an auditor holds. Reading the trail is itself audited.
 */
export class AuditService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #log: AuditLog;
  readonly #secrets: AuditSecrets;
  readonly #ticker: Periodic<void>;

  constructor(deps: { gate: Gate; store: Store; log: AuditLog; secrets: AuditSecrets; onError: (error: unknown) => void }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#log = deps.log;
    this.#secrets = deps.secrets;
    this.#ticker = new Periodic(() => this.#log.tick(), deps.onError);
  }

  /** Time-based checkpoints and file-sink recovery; `main.ts` starts it, tests call `runOnce()` after moving the clock. */
  get ticker(): Periodic<void> {
    return this.#ticker;
  }

  /** Resolves once pending records and a checkpoint being signed are stored. */
  idle(): Promise<void> {
    return this.#log.idle();
  }

  /** Records matching `query`, oldest first, `limit` at a time; `cursor` is the previous page's `nextCursor`. */
  events(ctx: CallContext, query: AuditQuery, cursor: string | null, limit: number): Promise<AuditEventsPage> {
    return this.#gate.run(ctx, 'audit.read', async (scope) => {
      scope.authorize();
      const after = cursor === null ? 0 : parseCursor(cursor);
      const rows = await this.#store.queryAudit(query, after, limit + 1);
      const page = rows.slice(0, limit);
      scope.details.records = page.length;
      const last = page.at(-1);
      return { events: page.map(recordView), nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null };
    });
  }

  /** Verifies every chain from its first record against the checkpoints and the stored heads. */
  verify(ctx: CallContext): Promise<AuditVerifyReport> {
    return this.#gate.run(ctx, 'audit.verify', async (scope) => {
      scope.authorize();
      const report = await this.verifyUngated();
      scope.details.valid = report.valid;
      scope.details.records = report.chains.reduce((n, c) => n + c.records, 0);
      if (report.problem !== null) {
        scope.details.problem = report.problem.kind;
        scope.details.chain = report.problem.chain;
        scope.details.seq = report.problem.seq;
      }
      return report;
    });
  }

  /**
   * What {@link verify} reports, for a service whose own request has already
   * been authorized and is being audited (the attestation): not gated here.
   */
  async verifyUngated(): Promise<AuditVerifyReport> {
    const { signer } = await this.#loaded();
    const verifier = new AuditVerifier({ publicKey: signer.publicKey, checkpoints: await this.#checkpoints(), requireAllChains: true });
    const heads = await this.#store.auditHeads();
    const chains = new Set([...heads.map((h) => h.chain), ...(await this.#store.auditChainNames())]);
    for (const chain of [...chains].sort()) {
      if (!(await this.#each(chain, Number.POSITIVE_INFINITY, (r) => verifier.record(r)))) break;
    }
    const report = verifier.finish(heads);
    const sink = this.#log.sink;
    if (sink !== null) {
      report.file = await verifyFile(sink, signer.publicKey);
      report.valid &&= report.file.valid;
    }
    return report;
  }

  /**
   * The whole trail as JSON lines (docs/formats.md): a header with the audit
   * public key, a checkpoint signed now, every chain up to that checkpoint,
   * then every earlier checkpoint; so a cut anywhere after the second line is
   * detected.
   */
  export(ctx: CallContext): Promise<AsyncIterable<string>> {
    return this.#gate.run(ctx, 'audit.export', async (scope) => {
      scope.authorize();
      const { signer } = await this.#loaded();
      const final = await this.#log.checkpoint();
      if (final === null) throw new KeywardError('invalid_state', 'the audit trail has no records yet');
      scope.details.checkpoint = final.id;
      const publicKey = signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const exportedAt = scope.now.toISOString();
      return this.#exportLines(final, publicKey, exportedAt);
    });
  }

  /** The Ed25519 public key checkpoints are signed with (PEM) and its id. */
  publicKey(ctx: CallContext): Promise<{ publicKey: string; keyId: string }> {
    return this.#gate.run(ctx, 'audit.read', async (scope) => {
      scope.authorize();
      const { signer } = await this.#loaded();
      return { publicKey: signer.publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: signer.keyId };
    });
  }

  /** The value as the audit trail would record it: `hmac-sha256:<hex>` under the installation's audit salt. */
  hash(ctx: CallContext, input: HashInput): Promise<{ hmac: string }> {
    return this.#gate.run(ctx, 'audit.hash', async (scope) => {
      scope.authorize();
      const { salt } = await this.#loaded();
      const bytes = 'value' in input ? Buffer.from(input.value, 'utf8') : encodeContext(input.context);
      scope.details.input = 'value' in input ? 'value' : 'context';
      return { hmac: AuditSecrets.hmac(salt, bytes) };
    });
  }

  /** Signs a checkpoint of every chain's head now (an operator closing a period; tests). */
  checkpoint(ctx: CallContext): Promise<AuditCheckpointView> {
    return this.#gate.run(ctx, 'audit.checkpoint', async (scope) => {
      scope.authorize();
      const checkpoint = await this.#log.checkpoint();
      if (checkpoint === null) throw new KeywardError('invalid_state', 'the audit trail has no records yet');
      scope.details.checkpoint = checkpoint.id;
      return checkpoint;
    });
  }

  async *#exportLines(final: AuditCheckpointView, publicKey: string, exportedAt: string): AsyncIterable<string> {
    const header: AuditLine = { type: 'export', version: 1, exportedAt, publicKey };
    // The checkpoint signed for this export comes first: cutting the file anywhere after it is then detected.
    yield `${JSON.stringify(header)}\n${JSON.stringify({ type: 'checkpoint', ...final })}\n`;
    for (const head of [...final.heads].sort((a, b) => (a.chain < b.chain ? -1 : 1))) {
      const lines: string[] = [];
      let after = 0;
      while (after < head.seq) {
        const page = await this.#store.listAuditChain(head.chain, after, PAGE);
        if (page.length === 0) break;
        for (const record of page) {
          if (record.chainSeq > head.seq) break;
          lines.push(`${JSON.stringify({ type: 'record', ...recordView(record) })}\n`);
          after = record.chainSeq;
        }
        yield lines.join('');
        lines.length = 0;
        if (page.length < PAGE) break;
      }
    }
    for (const checkpoint of await this.#checkpoints(final.id - 1)) {
      yield `${JSON.stringify({ type: 'checkpoint', ...checkpoint })}\n`;
    }
  }

  /** Every checkpoint, or those up to `upTo`. */
  async #checkpoints(upTo = Number.POSITIVE_INFINITY): Promise<AuditCheckpointView[]> {
    const all: AuditCheckpointView[] = [];
    let after = 0;
    for (;;) {
      const page = await this.#store.listAuditCheckpoints(after, PAGE);
      for (const c of page) if (c.id <= upTo) all.push(c);
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE || last.id >= upTo) return all;
      after = last.id;
    }
  }

  /** Calls `visit` with each record of `chain` up to `upTo`, in chain order, until it returns false; false when it did. */
  async #each(chain: string, upTo: number, visit: (record: AuditRecordView) => boolean): Promise<boolean> {
    let after = 0;
    for (;;) {
      const page = await this.#store.listAuditChain(chain, after, PAGE);
      for (const record of page) {
        if (record.chainSeq > upTo) return true;
        if (!visit(recordView(record))) return false;
        after = record.chainSeq;
      }
      if (page.length < PAGE) return true;
    }
  }

  async #loaded() {
    const secrets = await this.#secrets.load();
    if (secrets === null) throw new KeywardError('sealed', 'Keyward is sealed');
    return secrets;
  }
}

/**
 * Verifies a file sink on its own, and that it holds at least every record
 * the sink reported written before reading began (a cut file is caught).
 */
async function verifyFile(sink: AuditFileSink, publicKey: KeyObject): Promise<AuditFileReport> {
  const written = sink.writtenSeq;
  const report = await verifyAuditLines(() => readLines(sink.path), { publicKey, requireAllChains: false });
  const head = report.chains.find((c) => c.chain === sink.chain)?.head ?? null;
  let problem = report.problem;
  if (problem === null && (head?.seq ?? 0) < written) {
    const seq = (head?.seq ?? 0) + 1;
    problem = {
      kind: 'truncated',
      chain: sink.chain,
      seq,
      checkpointId: null,
      message: `audit file ${sink.path} ends at record ${seq - 1} of chain '${sink.chain}' but ${written} were written to it: truncated`,
    };
  }
  return { path: sink.path, valid: problem === null, head, problem };
}

async function* readLines(path: string): AsyncIterable<string> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) yield line;
}

function parseCursor(cursor: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw new KeywardError('invalid_request', 'cursor: not a cursor this server gave');
  return Number(cursor);
}
