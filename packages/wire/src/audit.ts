/** Outcome of an audited request. */
export type AuditOutcome = 'success' | 'denied' | 'error';

/** A detail value of an audit record. Sensitive values are recorded only as `hmac-sha256:<hex>` (see docs/audit.md). */
export type AuditDetail = string | number | boolean | null;

/**
 * One record of the tamper-evident audit trail (`GET /v1/audit/events`, the
 * JSON-lines export and the file sink). `hash` is SHA-256 over the record's
 * canonical encoding (docs/formats.md); `prevHash` is the hash of the record
 * before it in the same chain (64 zeros for the first).
 */
export interface AuditRecordView {
  /** The chain (one per node) and the record's position in it, from 1. */
  chain: string;
  seq: number;
  time: string;
  /** The principal, `keyward` for the server's own jobs, null when unauthenticated. */
  actor: string | null;
  action: string;
  namespace: string | null;
  key: string | null;
  keyVersion: number | null;
  outcome: AuditOutcome;
  errorCode: string | null;
  requestId: string;
  source: string;
  details: Record<string, AuditDetail>;
  prevHash: string;
  hash: string;
}

/** The head of one chain: its last record's position and hash. */
export interface AuditChainHead {
  chain: string;
  seq: number;
  hash: string;
}

/**
 * A signed statement of every chain's head at one moment. `signature` is
 * Ed25519 (base64) over the canonical encoding of the other fields except
 * `id` (docs/formats.md); `keyId` is the SHA-256 fingerprint of the audit
 * public key.
 */
export interface AuditCheckpointView {
  id: number;
  time: string;
  /** The node that signed it. */
  node: string;
  heads: AuditChainHead[];
  keyId: string;
  signature: string;
}

/** What kind of damage verification found. */
export type AuditProblemKind = 'altered' | 'broken_link' | 'missing' | 'out_of_order' | 'truncated' | 'bad_checkpoint' | 'malformed';

/** The first problem verification found: the chain and the first sequence number that does not verify. */
export interface AuditProblem {
  kind: AuditProblemKind;
  chain: string | null;
  seq: number | null;
  /** A checkpoint the problem concerns, when it does. */
  checkpointId: number | null;
  message: string;
}

/** Per-chain summary of a verification. */
export interface AuditChainReport {
  chain: string;
  records: number;
  head: AuditChainHead | null;
  /** The highest sequence number of this chain a valid checkpoint covers (0 when none). */
  checkpointedSeq: number;
}

/** `GET /v1/audit/verify` and `keyward audit verify`. */
export interface AuditVerifyReport {
  valid: boolean;
  chains: AuditChainReport[];
  checkpoints: number;
  /** The newest checkpoint's time: records after it are protected by the chain alone until the next one. */
  latestCheckpointAt: string | null;
  /** Null when valid. */
  problem: AuditProblem | null;
  /**
   * The file sink of the node that answered, when it has one (online
   * verification only): verified on its own and checked to hold everything
   * the node wrote, so a truncated or edited file is caught. `valid` above
   * covers it too.
   */
  file?: AuditFileReport;
}

export interface AuditFileReport {
  path: string;
  valid: boolean;
  /** Where this node's chain ends in the file. */
  head: AuditChainHead | null;
  problem: AuditProblem | null;
}

/**
 * One line of an audit JSON-lines file: the file sink and
 * `GET /v1/audit/export` (docs/formats.md). An export starts with an
 * `export` line; a file sink opened on a chain that already had records
 * starts with an `anchor` naming the record it continues from.
 */
export type AuditLine =
  | ({ type: 'record' } & AuditRecordView)
  | ({ type: 'checkpoint' } & AuditCheckpointView)
  | ({ type: 'anchor' } & AuditChainHead)
  | { type: 'export'; version: 1; exportedAt: string; publicKey: string };

/** `GET /v1/audit/events` query: filters (every one given must match) and paging. */
export interface AuditEventsQuery {
  /** Records about keys of this namespace (the request's namespace header does not filter the trail). */
  namespace?: string;
  key?: string;
  version?: number;
  /** The acting principal. */
  principal?: string;
  /** e.g. `crypto.encrypt`, `key.rotate`, `audit.export`. */
  action?: string;
  outcome?: AuditOutcome;
  /** Records at or after this time (RFC 3339). */
  from?: string;
  /** Records before this time (RFC 3339). */
  to?: string;
  /** 1–1000; the server defaults to 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}
