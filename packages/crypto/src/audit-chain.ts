import { createHash, createPublicKey, hash, type KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import type {
  AuditChainHead,
  AuditChainReport,
  AuditCheckpointView,
  AuditLine,
  AuditProblem,
  AuditProblemKind,
  AuditRecordView,
  AuditVerifyReport,
} from '@keyward/wire';

/** `prevHash` of the first record of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

type Canonical = string | number | boolean | null | readonly Canonical[] | { readonly [key: string]: Canonical };

/**
 * RFC 8785 (JCS) canonical JSON for the values audit records hold: object
 * members sorted by their UTF-16 code units, no whitespace, strings and
 * numbers as ECMAScript's JSON.stringify writes them. Rejects what JSON
 * cannot represent (undefined, non-finite numbers).
 */
export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item: Canonical) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.keys(value)
      .sort()
      .map((name) => {
        const member = (value as { readonly [key: string]: Canonical })[name];
        if (member === undefined) throw new TypeError(`canonical JSON member '${name}' is undefined`);
        return `${JSON.stringify(name)}:${canonicalJson(member)}`;
      });
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
}

/** The fields a record's hash covers: all but `hash` itself. */
export type UnhashedAuditRecord = Omit<AuditRecordView, 'hash'>;

/**
 * The bytes a record's hash is computed over: the canonical JSON of the
 * record without `hash`, plus `"type":"keyward-audit-record","v":1` for
 * domain separation (docs/formats.md).
 */
export function auditRecordBytes(record: UnhashedAuditRecord): Buffer {
  return Buffer.from(auditRecordText(record), 'utf8');
}

const json = JSON.stringify;

/**
 * {@link canonicalJson} of the record's hashed form, written out with its
 * members already in canonical order (only `details` needs sorting): this
 * runs once per audit record on the request path. A test checks it against
 * {@link canonicalJson} on random records.
 */
function auditRecordText(r: UnhashedAuditRecord): string {
  for (const n of [r.seq, r.keyVersion]) {
    if (n !== null && !Number.isFinite(n)) throw new TypeError('canonical JSON has no non-finite numbers');
  }
  return (
    `{"action":${json(r.action)},"actor":${json(r.actor)},"chain":${json(r.chain)},"details":${canonicalJson(r.details)},` +
    `"errorCode":${json(r.errorCode)},"key":${json(r.key)},"keyVersion":${json(r.keyVersion)},"namespace":${json(r.namespace)},` +
    `"outcome":${json(r.outcome)},"prevHash":${json(r.prevHash)},"requestId":${json(r.requestId)},"seq":${json(r.seq)},` +
    `"source":${json(r.source)},"time":${json(r.time)},"type":"keyward-audit-record","v":1}`
  );
}

/** The canonical form of {@link auditRecordBytes}, built the slow, obviously correct way (tests compare the two). */
export function auditRecordCanonical(record: UnhashedAuditRecord): string {
  const { chain, seq, time, actor, action, namespace, key, keyVersion, outcome, errorCode, requestId, source, details, prevHash } = record;
  return canonicalJson({
    type: 'keyward-audit-record',
    v: 1,
    chain,
    seq,
    time,
    actor,
    action,
    namespace,
    key,
    keyVersion,
    outcome,
    errorCode,
    requestId,
    source,
    details,
    prevHash,
  });
}

/** Hex SHA-256 of {@link auditRecordBytes}. */
export function auditRecordHash(record: UnhashedAuditRecord): string {
  return hash('sha256', auditRecordText(record), 'hex');
}

/** A checkpoint before it is signed (no `id`, no `signature`). */
export type UnsignedAuditCheckpoint = Omit<AuditCheckpointView, 'id' | 'signature'>;

/** The bytes a checkpoint's signature covers; heads sorted by chain name. */
export function auditCheckpointBytes(checkpoint: UnsignedAuditCheckpoint): Buffer {
  const heads = [...checkpoint.heads]
    .sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0))
    .map(({ chain, seq, hash }) => ({ chain, seq, hash }));
  const body = { type: 'keyward-audit-checkpoint', v: 1, time: checkpoint.time, node: checkpoint.node, heads, keyId: checkpoint.keyId };
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** `sha256:` + hex SHA-256 of the DER SubjectPublicKeyInfo of an audit public key. */
export function auditKeyId(publicKey: KeyObject): string {
  return `sha256:${createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')}`;
}

/** Signs a checkpoint with the Ed25519 audit key; returns the base64 signature. */
export function signAuditCheckpoint(privateKey: KeyObject, checkpoint: UnsignedAuditCheckpoint): string {
  return nodeSign(null, auditCheckpointBytes(checkpoint), privateKey).toString('base64');
}

/** Whether `checkpoint` carries a valid Ed25519 signature by `publicKey`. Never throws on malformed input. */
export function verifyAuditCheckpoint(publicKey: KeyObject, checkpoint: AuditCheckpointView): boolean {
  try {
    const signature = Buffer.from(checkpoint.signature, 'base64');
    if (signature.length !== 64 || signature.toString('base64') !== checkpoint.signature) return false;
    return nodeVerify(null, auditCheckpointBytes(checkpoint), publicKey, signature);
  } catch {
    return false;
  }
}

/** Parses an Ed25519 audit public key from PEM (SPKI). */
export function auditPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the audit public key must be an Ed25519 key');
  return key;
}

export interface AuditVerifierOptions {
  /** The audit public key every checkpoint must be signed with. */
  publicKey: KeyObject;
  /** Every checkpoint known (read before the records, so records need not be kept in memory). */
  checkpoints: readonly AuditCheckpointView[];
  /**
   * Whether every chain a checkpoint names must be present (a whole export or
   * the store); false for a file sink, which holds only its own node's chain.
   */
  requireAllChains: boolean;
}

interface ChainState {
  chain: string;
  /** Position and hash of the last record accepted (seq 0 and the genesis hash before any). */
  seq: number;
  hash: string;
  records: number;
  /** Where the chain was picked up when it does not start at its first record (file sinks). */
  anchoredAt: number;
  checkpointedSeq: number;
}

/**
 * Verifies audit chains and checkpoints, streaming: give it the checkpoints
 * first, then each chain's records in stored order ({@link record}), then
 * call {@link finish}. It stops at the first problem and names its chain and
 * the first sequence number that does not verify:
 *
 * - a record whose hash does not recompute was **altered**;
 * - one whose `prevHash` is not its predecessor's hash has a **broken link**
 *   (a record inserted or removed before it);
 * - a gap in the numbering means records are **missing** (deleted);
 * - a number at or below the last one is **out of order** (reordered or duplicated);
 * - a chain shorter than a checkpoint or its stored head says was **truncated**;
 * - a checkpoint with a bad signature, another key, or a head that does not
 *   match the record at that position is a **bad checkpoint** (forged, or the
 *   chain was rewritten after it was signed).
 */
export class AuditVerifier {
  readonly #publicKey: KeyObject;
  readonly #keyId: string;
  readonly #requireAll: boolean;
  readonly #chains = new Map<string, ChainState>();
  /** chain → seq → hash every valid checkpoint claims for it. */
  readonly #claims = new Map<string, Map<number, { hash: string; checkpointId: number }>>();
  readonly #checkpointCount: number;
  #latest: AuditCheckpointView | null = null;
  #problem: AuditProblem | null = null;

  constructor(options: AuditVerifierOptions) {
    this.#publicKey = options.publicKey;
    this.#keyId = auditKeyId(options.publicKey);
    this.#requireAll = options.requireAllChains;
    this.#checkpointCount = options.checkpoints.length;
    for (const checkpoint of options.checkpoints) {
      if (this.#problem !== null) break;
      this.#addCheckpoint(checkpoint);
    }
  }

  /** The first problem found so far. */
  get problem(): AuditProblem | null {
    return this.#problem;
  }

  /**
   * Declares that `head.chain` is picked up after record `head.seq` whose hash
   * is `head.hash` (a file sink opened on a chain that already had records).
   * Only before the chain's first record.
   */
  anchor(head: AuditChainHead): void {
    if (this.#problem !== null) return;
    const state = this.#chains.get(head.chain);
    if (state !== undefined && state.records > 0) {
      this.#fail('malformed', head.chain, head.seq, null, `an anchor for chain '${head.chain}' appears after its records`);
      return;
    }
    this.#chains.set(head.chain, {
      chain: head.chain,
      seq: head.seq,
      hash: head.hash,
      records: 0,
      anchoredAt: head.seq,
      checkpointedSeq: 0,
    });
  }

  /** Checks the next record of its chain. Returns false once a problem is known. */
  record(record: AuditRecordView): boolean {
    if (this.#problem !== null) return false;
    let state = this.#chains.get(record.chain);
    if (state === undefined) {
      state = { chain: record.chain, seq: 0, hash: GENESIS_HASH, records: 0, anchoredAt: 0, checkpointedSeq: 0 };
      this.#chains.set(record.chain, state);
    }
    const expected = state.seq + 1;
    if (!Number.isSafeInteger(record.seq) || record.seq < expected) {
      return this.#fail(
        'out_of_order',
        record.chain,
        record.seq,
        null,
        `record ${record.seq} of chain '${record.chain}' comes after record ${state.seq}: reordered, duplicated or inserted`,
      );
    }
    if (record.seq > expected) {
      const last = record.seq - 1;
      const range = last === expected ? `record ${expected} is` : `records ${expected}–${last} are`;
      return this.#fail('missing', record.chain, expected, null, `${range} missing from chain '${record.chain}' (deleted)`);
    }
    let hash: string;
    try {
      hash = auditRecordHash(record);
    } catch {
      return this.#fail(
        'malformed',
        record.chain,
        record.seq,
        null,
        `record ${record.seq} of chain '${record.chain}' is not a valid record`,
      );
    }
    if (hash !== record.hash) {
      return this.#fail(
        'altered',
        record.chain,
        record.seq,
        null,
        `record ${record.seq} of chain '${record.chain}' was altered: its hash does not match its content`,
      );
    }
    if (record.prevHash !== state.hash) {
      return this.#fail(
        'broken_link',
        record.chain,
        record.seq,
        null,
        `record ${record.seq} of chain '${record.chain}' does not follow record ${state.seq}: a record was inserted, removed or replaced before it`,
      );
    }
    const claim = this.#claims.get(record.chain)?.get(record.seq);
    if (claim !== undefined) {
      if (claim.hash !== hash) {
        const from = state.checkpointedSeq + 1;
        return this.#fail(
          'bad_checkpoint',
          record.chain,
          from,
          claim.checkpointId,
          `checkpoint ${claim.checkpointId} signed a different record ${record.seq} of chain '${record.chain}': records ${from}–${record.seq} were rewritten after it was signed`,
        );
      }
      state.checkpointedSeq = record.seq;
    }
    state.seq = record.seq;
    state.hash = hash;
    state.records += 1;
    return true;
  }

  /**
   * Ends verification. `heads` are the chain heads the source says it holds
   * (the store's head rows); a chain whose records stop short of its head, or
   * of a checkpoint, was truncated.
   */
  finish(heads: readonly AuditChainHead[] = []): AuditVerifyReport {
    if (this.#problem === null) {
      for (const head of heads) {
        const state = this.#chains.get(head.chain);
        const seq = state?.seq ?? 0;
        if (seq < head.seq) {
          this.#fail(
            'truncated',
            head.chain,
            seq + 1,
            null,
            `chain '${head.chain}' ends at record ${seq} but its head is record ${head.seq}: truncated`,
          );
          break;
        }
        if (seq === head.seq && state !== undefined && state.hash !== head.hash) {
          this.#fail('altered', head.chain, seq, null, `the head of chain '${head.chain}' does not match its last record ${seq}`);
          break;
        }
      }
    }
    if (this.#problem === null) {
      for (const [chain, claims] of this.#claims) {
        const state = this.#chains.get(chain);
        if (state === undefined && !this.#requireAll) continue;
        const seq = state?.seq ?? 0;
        const beyond = [...claims].filter(([claimed]) => claimed > seq).sort(([a], [b]) => a - b)[0];
        if (beyond !== undefined) {
          const [claimed, { checkpointId }] = beyond;
          this.#fail(
            'truncated',
            chain,
            seq + 1,
            checkpointId,
            `chain '${chain}' ends at record ${seq} but checkpoint ${checkpointId} names record ${claimed}: truncated`,
          );
          break;
        }
      }
    }
    const chains: AuditChainReport[] = [...this.#chains.values()]
      .sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0))
      .map((s) => ({
        chain: s.chain,
        records: s.records,
        head: s.records === 0 && s.anchoredAt === 0 ? null : { chain: s.chain, seq: s.seq, hash: s.hash },
        checkpointedSeq: s.checkpointedSeq,
      }));
    return {
      valid: this.#problem === null,
      chains,
      checkpoints: this.#checkpointCount,
      latestCheckpointAt: this.#latest?.time ?? null,
      problem: this.#problem,
    };
  }

  #addCheckpoint(checkpoint: AuditCheckpointView): void {
    if (checkpoint.keyId !== this.#keyId) {
      this.#fail(
        'bad_checkpoint',
        null,
        null,
        checkpoint.id,
        `checkpoint ${checkpoint.id} names audit key ${checkpoint.keyId}, not this one (${this.#keyId})`,
      );
      return;
    }
    if (!verifyAuditCheckpoint(this.#publicKey, checkpoint)) {
      this.#fail('bad_checkpoint', null, null, checkpoint.id, `checkpoint ${checkpoint.id} has an invalid signature (forged or altered)`);
      return;
    }
    if (this.#latest === null || checkpoint.time > this.#latest.time) this.#latest = checkpoint;
    for (const head of checkpoint.heads) {
      let claims = this.#claims.get(head.chain);
      if (claims === undefined) {
        claims = new Map();
        this.#claims.set(head.chain, claims);
      }
      const earlier = claims.get(head.seq);
      if (earlier !== undefined && earlier.hash !== head.hash) {
        this.#fail(
          'bad_checkpoint',
          head.chain,
          head.seq,
          checkpoint.id,
          `checkpoints ${earlier.checkpointId} and ${checkpoint.id} disagree on record ${head.seq} of chain '${head.chain}'`,
        );
        return;
      }
      if (earlier === undefined) claims.set(head.seq, { hash: head.hash, checkpointId: checkpoint.id });
    }
  }

  #fail(kind: AuditProblemKind, chain: string | null, seq: number | null, checkpointId: number | null, message: string): false {
    if (this.#problem === null) this.#problem = { kind, chain, seq, checkpointId, message };
    return false;
  }
}

export interface AuditLinesOptions {
  publicKey: KeyObject;
  /** True for an export (every chain complete from its first record), false for a file sink. */
  requireAllChains: boolean;
}

/**
 * Verifies an audit JSON-lines file (an export or a file sink) offline.
 * `lines` is called twice (checkpoints first, then records), so a file of
 * any size is read as a stream and never held in memory. A line that is not
 * JSON or not a known kind is a `malformed` problem naming its line number.
 */
export async function verifyAuditLines(lines: () => AsyncIterable<string>, options: AuditLinesOptions): Promise<AuditVerifyReport> {
  const checkpoints: AuditCheckpointView[] = [];
  let lineNo = 0;
  const malformed = (message: string): AuditVerifyReport => ({
    valid: false,
    chains: [],
    checkpoints: checkpoints.length,
    latestCheckpointAt: null,
    problem: { kind: 'malformed', chain: null, seq: null, checkpointId: null, message },
  });
  const parse = (line: string): AuditLine | null => {
    try {
      const value = JSON.parse(line) as AuditLine;
      return typeof value === 'object' && value !== null && typeof value.type === 'string' ? value : null;
    } catch {
      return null;
    }
  };
  for await (const line of lines()) {
    lineNo += 1;
    if (line.trim() === '') continue;
    const parsed = parse(line);
    if (parsed === null) return malformed(`line ${lineNo} is not an audit line`);
    if (parsed.type === 'checkpoint') {
      const { type: _, ...checkpoint } = parsed;
      checkpoints.push(checkpoint);
    }
  }
  const verifier = new AuditVerifier({ publicKey: options.publicKey, checkpoints, requireAllChains: options.requireAllChains });
  lineNo = 0;
  for await (const line of lines()) {
    lineNo += 1;
    if (line.trim() === '' || verifier.problem !== null) continue;
    const parsed = parse(line);
    if (parsed === null) return malformed(`line ${lineNo} is not an audit line`);
    switch (parsed.type) {
      case 'record': {
        const { type: _, ...record } = parsed;
        verifier.record(record);
        break;
      }
      case 'anchor':
        verifier.anchor({ chain: parsed.chain, seq: parsed.seq, hash: parsed.hash });
        break;
      case 'checkpoint':
      case 'export':
        break;
      default:
        return malformed(`line ${lineNo} has an unknown type`);
    }
  }
  return verifier.finish();
}
