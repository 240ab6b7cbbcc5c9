import type { AlertState, AlertType, AuditChainHead, AuditCheckpointView } from '@keyward/wire';
import type { AlertCursor, AlertFilter, AlertRecord, DetectorStateRow, StoredAlert } from './alert-records.js';
import type { ByokStoreOps } from './byok-records.js';
import type { Change, ChangeListener } from './change.js';
import type { GovernanceStoreOps } from './governance-ops.js';
import type { IncidentStoreOps } from './incident-records.js';
import type {
  AuditQuery,
  ChainedAuditRecord,
  GrantRecord,
  KekRecord,
  KeyEvent,
  KeyFilter,
  KeyRecord,
  LastUseRow,
  PrincipalRecord,
  StoredAuditRecord,
  StoredKeyEvent,
  StoredWebhookDelivery,
  TokenRecord,
  UsageRow,
  VersionRecord,
  WebhookDeliveryRecord,
  WebhookProgress,
  WebhookRecord,
} from './records.js';
import type { TableCopy, TableEditor } from './table-copy.js';
import type { TlsIdentityStoreOps } from './tls-identity-records.js';
import type { TotpStoreOps } from './totp-records.js';

/**
 * The store: one interface, two dialects (SQLite and PostgreSQL), the same
 * conformance suite. Storage is untrusted: it holds wrapped material only.
 * Every multi-row state change goes through {@link Store.transaction}.
 */
export interface StoreOps extends IncidentStoreOps, GovernanceStoreOps, TotpStoreOps, TlsIdentityStoreOps, ByokStoreOps {
  getMeta(name: string): Promise<string | null>;
  setMeta(name: string, value: string): Promise<void>;
  /** Removes a meta row; absent is fine. */
  deleteMeta(name: string): Promise<void>;
  /** Row-level reads and updates of the copied tables, in this transaction (a seal rekey). */
  tableEditor(): TableEditor;

  /** The newest KEK of a namespace, or a given version of it. */
  getKek(namespace: string, version?: number): Promise<KekRecord | null>;
  insertKek(kek: KekRecord): Promise<void>;

  getKey(namespace: string, name: string): Promise<KeyRecord | null>;
  getKeyById(id: string): Promise<KeyRecord | null>;
  /**
   * Reads a key and locks its row until the transaction ends, so concurrent
   * changes to one key (two rotations, a rotation and a compromise) take
   * turns instead of both planning from the same state. Inside a transaction.
   */
  lockKey(namespace: string, name: string): Promise<KeyRecord | null>;
  lockKeyById(id: string): Promise<KeyRecord | null>;
  /** Keys ordered by name, strictly after `after` when given. */
  listKeys(namespace: string, filter: KeyFilter, limit: number, after: string | null): Promise<KeyRecord[]>;
  /** Every key `owner` owns, in every namespace, ordered by namespace and name. */
  listKeysOwnedBy(owner: string): Promise<KeyRecord[]>;
  /** Throws StoreConflictError when the name is taken in the namespace. */
  insertKey(key: KeyRecord): Promise<void>;
  updateKey(key: KeyRecord): Promise<void>;

  getVersions(keyId: string): Promise<VersionRecord[]>;
  insertVersion(version: VersionRecord): Promise<void>;
  updateVersion(version: VersionRecord): Promise<void>;
  addUses(keyId: string, version: number, count: number): Promise<void>;
  /**
   * Reserves up to `count` uses of a version without letting `reserved` pass
   * `limit`; returns how many were granted (0 when the version is used up).
   * Safe under concurrency across processes.
   */
  reserveUses(keyId: string, version: number, count: number, limit: number): Promise<number>;
  /** Keys whose `nextCheckAt` has come (rotation or deletion due, a version to activate, a cryptoperiod to enforce), earliest first. */
  keysNeedingAttention(now: string, limit: number): Promise<KeyRecord[]>;

  appendEvents(events: readonly KeyEvent[]): Promise<void>;
  /** Events after `afterId`, oldest first. */
  listEvents(afterId: number, limit: number): Promise<StoredKeyEvent[]>;
  /** The newest event id, 0 when there is none. */
  lastEventId(): Promise<number>;

  getPrincipal(id: string): Promise<PrincipalRecord | null>;
  listPrincipals(limit: number, after: string | null): Promise<PrincipalRecord[]>;
  /** Throws StoreConflictError when the id exists. */
  insertPrincipal(principal: PrincipalRecord): Promise<void>;

  getToken(id: string): Promise<TokenRecord | null>;
  getTokenByHash(hash: string): Promise<TokenRecord | null>;
  insertToken(token: TokenRecord): Promise<void>;
  revokeToken(id: string, at: string): Promise<void>;

  listGrants(keyId: string): Promise<GrantRecord[]>;
  insertGrant(grant: GrantRecord): Promise<void>;
  deleteGrant(keyId: string, id: string): Promise<boolean>;

  /**
   * Inserts `name` with `value` unless it exists; returns the stored value
   * (the caller's, or the one another node stored first).
   */
  claimMeta(name: string, value: string): Promise<string>;

  /**
   * Locks the head of an audit chain for the rest of the transaction (a row
   * lock on PostgreSQL, so appends to one chain serialize and other chains do
   * not wait) and returns it; seq 0 and the genesis hash for a new chain.
   */
  lockAuditHead(chain: string): Promise<AuditChainHead>;
  /**
   * Appends consecutive records of one chain after its locked head and moves
   * the head to the last of them. Only inside a transaction that holds the
   * chain's head ({@link lockAuditHead}).
   */
  appendAudit(records: readonly ChainedAuditRecord[]): Promise<void>;
  /** Records in insertion order (all chains), strictly after the cursor `afterSeq`. */
  listAudit(afterSeq: number, limit: number): Promise<StoredAuditRecord[]>;
  /** Records matching `query`, in insertion order, strictly after `afterSeq`. */
  queryAudit(query: AuditQuery, afterSeq: number, limit: number): Promise<StoredAuditRecord[]>;
  /** One chain's records in chain order, strictly after position `afterChainSeq`. */
  listAuditChain(chain: string, afterChainSeq: number, limit: number): Promise<StoredAuditRecord[]>;
  /** Every chain's head, ordered by chain name. */
  auditHeads(): Promise<AuditChainHead[]>;
  /** The name of every chain that has records (a chain whose head row was deleted still shows here). */
  auditChainNames(): Promise<string[]>;
  /** Stores a signed checkpoint; returns its id. */
  insertAuditCheckpoint(checkpoint: Omit<AuditCheckpointView, 'id'>): Promise<number>;
  /** Checkpoints in id order, strictly after `afterId`. */
  listAuditCheckpoints(afterId: number, limit: number): Promise<AuditCheckpointView[]>;
  /**
   * Successful cryptographic operations (audit actions `crypto.*`, outcome
   * `success`, with a version and an actor) on one key, at or after `since`
   * (an ISO time as `toISOString()` writes it) when given: one row per
   * version, principal and operation, ordered by version descending, then
   * principal, then operation.
   */
  usage(namespace: string, keyName: string, since: string | null): Promise<UsageRow[]>;
  /**
   * The last successful cryptographic operation (as {@link usage} counts
   * them) on each key of a namespace that has one, in one query: one row
   * per key name, ordered by name. Audit records name keys by name, so a
   * row may be of an earlier key of that name (compare with `createdAt`).
   */
  lastUses(namespace: string): Promise<LastUseRow[]>;

  insertWebhook(webhook: WebhookRecord): Promise<void>;
  getWebhook(id: string): Promise<WebhookRecord | null>;
  /** Webhooks ordered by id, strictly after `after` when given. */
  listWebhooks(limit: number, after: string | null): Promise<WebhookRecord[]>;
  /** Deletes a webhook and its delivery log; false when there was none. */
  deleteWebhook(id: string): Promise<boolean>;
  /** Moves a webhook's delivery progress; false when the webhook no longer exists. */
  updateWebhookProgress(id: string, progress: WebhookProgress): Promise<boolean>;
  appendWebhookDelivery(delivery: WebhookDeliveryRecord): Promise<void>;
  /** Delivery attempts of one webhook, newest first, strictly before `beforeSeq` when given. */
  listWebhookDeliveries(webhookId: string, limit: number, beforeSeq: number | null): Promise<StoredWebhookDelivery[]>;

  /**
   * Calls `hook` once, when the surrounding transaction has committed (true)
   * or rolled back (false); outside a transaction, soon with true. Hooks must
   * not throw.
   */
  afterTransaction(hook: (committed: boolean) => void): void;

  /** Anomaly alerts and the alert engine's memory (docs/alerts.md; SQL in alert-ops.ts). */
  insertAlert(alert: AlertRecord): Promise<void>;
  updateAlert(alert: AlertRecord): Promise<void>;
  getAlert(id: string): Promise<StoredAlert | null>;
  /** The unresolved alerts with these dedup keys (at most one each). */
  findUnresolvedAlerts(dedupKeys: readonly string[]): Promise<StoredAlert[]>;
  /** Alerts newest first, strictly before `beforeSeq` when given. */
  listAlerts(filter: AlertFilter, limit: number, beforeSeq: number | null): Promise<StoredAlert[]>;
  /** How many alerts are in `state`, per type (types with none are left out). */
  countAlerts(state: AlertState): Promise<Array<{ type: AlertType; count: number }>>;
  listAlertCursors(): Promise<AlertCursor[]>;
  saveAlertCursors(cursors: readonly AlertCursor[]): Promise<void>;
  /** One detector's stored state of these subjects (subject → JSON); subjects without state are absent. */
  getDetectorStates(detector: string, subjects: readonly string[]): Promise<Map<string, string>>;
  /** Upserts (or, for `state: null`, deletes) detector state, stamped `at`. */
  putDetectorStates(detector: string, rows: readonly DetectorStateRow[], at: string): Promise<void>;
  /** Deletes one detector's state not written since `before`; returns how many rows went. */
  pruneDetectorStates(detector: string, before: string): Promise<number>;

  /**
   * Announces a change to the other nodes sharing this database, delivered
   * when the surrounding transaction commits (nothing on a single-node store).
   */
  announce(change: Change): Promise<void>;
}

export interface Store extends StoreOps, TableCopy {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one database transaction: all of its writes land, or none. */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /**
   * Listens for changes announced by other nodes. Returns a function that stops listening.
   * A `reset` event means changes may have been missed: drop every cache.
   */
  onChange(listener: ChangeListener): () => void;
  /**
   * False while changes could be missed (the PostgreSQL listener is
   * reconnecting): caches must then read through to the store.
   */
  changesReliable(): boolean;
  /**
   * Whether this node may run the scheduler: always on a single-node store;
   * on PostgreSQL, while it holds the scheduler's advisory lock.
   */
  isLeader(): Promise<boolean>;
  /** Applies pending numbered migrations (up to `target`, default all); refuses a database from a newer Keyward. */
  migrate(target?: number): Promise<void>;
  /** The schema version the database is at (0 before the first migration). */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

/** A unique constraint was violated (a name or id already exists). */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}

/** The database was written by a newer Keyward than this one. */
export class StoreVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreVersionError';
  }
}
