import type { Change, ChangeListener } from './change.js';
import type {
  AuditRecord,
  GrantRecord,
  KekRecord,
  KeyEvent,
  KeyFilter,
  KeyRecord,
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

/**
 * The store: one interface, two dialects (SQLite and PostgreSQL), the same
 * conformance suite. Storage is untrusted: it holds wrapped material only.
 * Every multi-row state change goes through {@link Store.transaction}.
 */
export interface StoreOps {
  getMeta(name: string): Promise<string | null>;
  setMeta(name: string, value: string): Promise<void>;

  /** The newest KEK of a namespace, or a given version of it. */
  getKek(namespace: string, version?: number): Promise<KekRecord | null>;
  insertKek(kek: KekRecord): Promise<void>;

  getKey(namespace: string, name: string): Promise<KeyRecord | null>;
  getKeyById(id: string): Promise<KeyRecord | null>;
  /** Keys ordered by name, strictly after `after` when given. */
  listKeys(namespace: string, filter: KeyFilter, limit: number, after: string | null): Promise<KeyRecord[]>;
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

  appendAudit(records: readonly AuditRecord[]): Promise<void>;
  listAudit(afterSeq: number, limit: number): Promise<StoredAuditRecord[]>;
  /**
   * Successful cryptographic operations (audit actions `crypto.*`, outcome
   * `success`, with a version and an actor) on one key, at or after `since`
   * (an ISO time as `toISOString()` writes it) when given: one row per
   * version, principal and operation, ordered by version descending, then
   * principal, then operation.
   */
  usage(namespace: string, keyName: string, since: string | null): Promise<UsageRow[]>;

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
   * Announces a change to the other nodes sharing this database, delivered
   * when the surrounding transaction commits (nothing on a single-node store).
   */
  announce(change: Change): Promise<void>;
}

export interface Store extends StoreOps {
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
  /** Applies pending numbered migrations; refuses a database from a newer Keyward. */
  migrate(): Promise<void>;
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
