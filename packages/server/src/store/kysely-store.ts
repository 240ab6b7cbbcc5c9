import { AsyncLocalStorage } from 'node:async_hooks';
import { GENESIS_HASH } from '@keyward/crypto';
import type {
  AlertState,
  AlertType,
  AlgorithmName,
  AuditChainHead,
  AuditCheckpointView,
  Environment,
  KeyClass,
  KeyOperation,
  KeyProtection,
  KeyState,
  KeyUsage,
  PrincipalKind,
  Role,
  VersionState,
} from '@keyward/wire';
import { type Kysely, type Selectable, sql } from 'kysely';
import * as alerts from './alert-ops.js';
import type { AlertCursor, AlertFilter, AlertRecord, DetectorStateRow, StoredAlert } from './alert-records.js';
import { insertAuditRecords, prepared } from './audit-insert.js';
import * as byok from './byok-ops.js';
import type { ImportTokenRecord, WrappingKeyRecord } from './byok-records.js';
import type { Change, ChangeListener } from './change.js';
import type { ChangeChannel } from './change-channel.js';
import * as governance from './governance-ops.js';
import * as incidents from './incident-ops.js';
import type {
  IncidentAckRecord,
  IncidentChange,
  IncidentCursor,
  IncidentFilter,
  IncidentRecord,
  IncidentStepRecord,
  NodeRecord,
  VersionActivityQuery,
  VersionActivityRow,
} from './incident-records.js';
import { type Dialect, migrate } from './migrations.js';
import type {
  ApprovalFilter,
  ApprovalRecord,
  AuditOutcome,
  AuditQuery,
  AuditRecord,
  ChainedAuditRecord,
  EventType,
  GrantRecord,
  KekRecord,
  KeyEvent,
  KeyFilter,
  KeyRecord,
  LastUseRow,
  PrincipalRecord,
  RotationTrigger,
  StoredAuditRecord,
  StoredKeyEvent,
  StoredWebhookDelivery,
  TokenRecord,
  UsageRow,
  VersionRecord,
  WebhookDeliveryRecord,
  WebhookProgress,
  WebhookRecord,
  WebhookState,
} from './records.js';
import type { AuditTable, Database, KeyTable, KeyVersionTable, WebhookTable } from './schema.js';
import { type Store, StoreConflictError, type StoreOps } from './store.js';
import {
  countRows,
  loadTables,
  type TableEditor,
  type TableName,
  type TableReader,
  type TableWriter,
  tableEditor,
  tableReader,
} from './table-copy.js';
import * as tlsIdentities from './tls-identity-ops.js';
import type { TlsIdentityRow } from './tls-identity-records.js';
import * as totp from './totp-ops.js';
import type { TotpRecord } from './totp-records.js';

const toBytes = (value: Uint8Array): Buffer => Buffer.from(value.buffer, value.byteOffset, value.byteLength);
const fromBytes = (value: Uint8Array): Uint8Array => new Uint8Array(value);
const num = (value: number | string): number => Number(value);

function keyFromRow(row: Selectable<KeyTable>): KeyRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    name: row.name,
    algorithm: row.algorithm as AlgorithmName,
    usage: row.usage as KeyUsage,
    state: row.state as KeyState,
    owner: row.owner,
    class: row.class as KeyClass,
    environment: row.environment as Environment,
    description: row.description,
    tags: JSON.parse(row.tags) as Record<string, string>,
    rotationPeriod: row.rotation_period,
    maxUsesPerVersion: row.max_uses_per_version === null ? null : num(row.max_uses_per_version),
    nextRotationAt: row.next_rotation_at,
    primaryVersion: row.primary_version,
    exportable: row.exportable === 1,
    protection: row.protection as KeyProtection,
    deletionWindowDays: row.deletion_window_days,
    deletionDate: row.deletion_date,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    minDecryptionVersion: row.min_decryption_version,
    prepublishPeriod: row.prepublish_period,
    originatorPeriod: row.originator_period,
    nextCheckAt: row.next_check_at,
    lastReviewedAt: row.last_reviewed_at,
    reviewDueAt: row.review_due_at,
  };
}

function keyToRow(key: KeyRecord): KeyTable {
  return {
    id: key.id,
    namespace: key.namespace,
    name: key.name,
    algorithm: key.algorithm,
    usage: key.usage,
    state: key.state,
    owner: key.owner,
    class: key.class,
    environment: key.environment,
    description: key.description,
    tags: JSON.stringify(key.tags),
    rotation_period: key.rotationPeriod,
    max_uses_per_version: key.maxUsesPerVersion,
    next_rotation_at: key.nextRotationAt,
    primary_version: key.primaryVersion,
    exportable: key.exportable ? 1 : 0,
    protection: key.protection,
    deletion_window_days: key.deletionWindowDays,
    deletion_date: key.deletionDate,
    created_at: key.createdAt,
    updated_at: key.updatedAt,
    min_decryption_version: key.minDecryptionVersion,
    prepublish_period: key.prepublishPeriod,
    originator_period: key.originatorPeriod,
    next_check_at: key.nextCheckAt,
    last_reviewed_at: key.lastReviewedAt,
    review_due_at: key.reviewDueAt,
  };
}

function versionFromRow(row: Selectable<KeyVersionTable>): VersionRecord {
  return {
    keyId: row.key_id,
    version: row.version,
    state: row.state as VersionState,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    deactivatedAt: row.deactivated_at,
    compromisedAt: row.compromised_at,
    destroyedAt: row.destroyed_at,
    uses: num(row.uses),
    fingerprint: row.fingerprint,
    publicKey: row.public_key,
    material: row.material === null ? null : fromBytes(row.material),
    kekVersion: row.kek_version,
    trigger: row.trigger as RotationTrigger,
    reserved: num(row.reserved),
    activateAt: row.activate_at,
  };
}

function versionToRow(v: VersionRecord): KeyVersionTable {
  return {
    key_id: v.keyId,
    version: v.version,
    state: v.state,
    created_at: v.createdAt,
    activated_at: v.activatedAt,
    deactivated_at: v.deactivatedAt,
    compromised_at: v.compromisedAt,
    destroyed_at: v.destroyedAt,
    uses: v.uses,
    fingerprint: v.fingerprint,
    public_key: v.publicKey,
    material: v.material === null ? null : toBytes(v.material),
    kek_version: v.kekVersion,
    trigger: v.trigger,
    reserved: v.reserved,
    activate_at: v.activateAt,
  };
}

/**
 * Escapes LIKE wildcards with `!` so a search term is matched literally. SQLite
 * has no default escape character, so every LIKE must say `ESCAPE '!'`.
 */
const likeLiteral = (term: string): string => `%${term.replace(/[!%_]/g, (c) => `!${c}`)}%`;

/**
 * Case-insensitive substring match. Both sides go through the database's own
 * lower(): SQLite's folds ASCII only, and lowering the term in JavaScript
 * instead made non-ASCII capitals (Ä) unmatchable there.
 */
const containsIgnoringCase = (column: 'keys.name' | 'keys.description' | 'keys.owner', pattern: string) =>
  sql<boolean>`lower(${sql.ref(column)}) like lower(${pattern}) escape '!'`;

function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: unknown };
  // better-sqlite3: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY; PostgreSQL: 23505 unique_violation.
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

// The statements of every audit group commit, compiled once (audit-insert.ts).
const ADD_USES = prepared((db, keyId: string, version: number, count: number) =>
  db
    .updateTable('key_versions')
    .set((eb) => ({ uses: eb('uses', '+', count) }))
    .where('key_id', '=', keyId)
    .where('version', '=', version),
);
// An UPDATE that changes nothing still takes the row lock on PostgreSQL,
// and is the same SQL on both dialects (SQLite has no FOR UPDATE).
const LOCK_AUDIT_HEAD = prepared((db, chain: string) =>
  db
    .updateTable('audit_chains')
    .set((eb) => ({ seq: eb.ref('seq') }))
    .where('chain', '=', chain)
    .returning(['seq', 'hash']),
);
const MOVE_AUDIT_HEAD = prepared((db, chain: string, seq: number, hash: string) =>
  db.updateTable('audit_chains').set({ seq, hash }).where('chain', '=', chain),
);

/**
 * The transaction whose callback is running. Using the outer store inside a
 * transaction callback would deadlock SQLite's single connection (and on
 * PostgreSQL read outside the transaction), so it throws at once instead.
 *
 * A guard against programming errors, on where the code is exercised — the
 * test suite (NODE_ENV=test, which vitest sets and the servers it starts
 * inherit), development (NODE_ENV=development) or KEYWARD_STORE_GUARD=1 —
 * and off otherwise: on Node 20 an AsyncLocalStorage turns on promise hooks
 * for every promise of the process, which costs the encrypt path about 5 %
 * of its throughput (docs/performance.md).
 */
const activeTransaction =
  process.env.NODE_ENV === 'test' || process.env.NODE_ENV === 'development' || process.env.KEYWARD_STORE_GUARD === '1'
    ? new AsyncLocalStorage<KyselyOps>()
    : null;

type TransactionHook = (committed: boolean) => void;

/** Store operations over a Kysely instance or transaction; identical SQL for both dialects. */
class KyselyOps implements StoreOps {
  readonly #db: Kysely<Database>;
  protected readonly channel: ChangeChannel;
  /** Hooks to run when the transaction ends; null outside a transaction. */
  readonly #hooks: TransactionHook[] | null;
  constructor(db: Kysely<Database>, channel: ChangeChannel, hooks: TransactionHook[] | null = null) {
    this.#db = db;
    this.channel = channel;
    this.#hooks = hooks;
  }

  afterTransaction(hook: TransactionHook): void {
    if (this.#hooks === null) queueMicrotask(() => hook(true));
    else this.#hooks.push(hook);
  }

  announce(change: Change): Promise<void> {
    return this.channel.announce(this.db, change);
  }

  protected get db(): Kysely<Database> {
    const active = activeTransaction?.getStore();
    if (active !== undefined && active !== this) throw new Error('the store was used inside a transaction callback; use the transaction');
    return this.#db;
  }

  async getMeta(name: string): Promise<string | null> {
    const row = await this.db.selectFrom('meta').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value ?? null;
  }

  async setMeta(name: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ name, value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
  }

  async getKek(namespace: string, version?: number): Promise<KekRecord | null> {
    let query = this.db.selectFrom('keks').selectAll().where('namespace', '=', namespace);
    query = version === undefined ? query.orderBy('version', 'desc').limit(1) : query.where('version', '=', version);
    const row = await query.executeTakeFirst();
    return row ? { namespace: row.namespace, version: row.version, wrapped: fromBytes(row.wrapped), createdAt: row.created_at } : null;
  }

  async insertKek(kek: KekRecord): Promise<void> {
    await this.db
      .insertInto('keks')
      .values({ namespace: kek.namespace, version: kek.version, wrapped: toBytes(kek.wrapped), created_at: kek.createdAt })
      .execute();
  }

  async getKey(namespace: string, name: string): Promise<KeyRecord | null> {
    const row = await this.db.selectFrom('keys').selectAll().where('namespace', '=', namespace).where('name', '=', name).executeTakeFirst();
    return row ? keyFromRow(row) : null;
  }

  async lockKey(namespace: string, name: string): Promise<KeyRecord | null> {
    // An UPDATE that changes nothing takes the row lock on PostgreSQL (SQLite has no FOR UPDATE;
    // its writing transactions already take turns).
    const row = await this.db
      .updateTable('keys')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('namespace', '=', namespace)
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row ? keyFromRow(row) : null;
  }

  async lockKeyById(id: string): Promise<KeyRecord | null> {
    const row = await this.db
      .updateTable('keys')
      .set((eb) => ({ id: eb.ref('id') }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? keyFromRow(row) : null;
  }

  async getKeyById(id: string): Promise<KeyRecord | null> {
    const row = await this.db.selectFrom('keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? keyFromRow(row) : null;
  }

  async listKeys(namespace: string, filter: KeyFilter, limit: number, after: string | null): Promise<KeyRecord[]> {
    let query = this.db.selectFrom('keys').selectAll('keys').where('keys.namespace', '=', namespace);
    if (filter.owner !== undefined) query = query.where('keys.owner', '=', filter.owner);
    if (filter.class !== undefined) query = query.where('keys.class', '=', filter.class);
    if (filter.environment !== undefined) query = query.where('keys.environment', '=', filter.environment);
    if (filter.environments !== undefined) {
      if (filter.environments.length === 0) return [];
      query = query.where('keys.environment', 'in', filter.environments);
    }
    if (filter.state !== undefined) query = query.where('keys.state', '=', filter.state);
    if (filter.algorithm !== undefined) query = query.where('keys.algorithm', '=', filter.algorithm);
    if (filter.tag !== undefined) {
      const { key, value } = filter.tag;
      // A scalar subquery on the (key_id, tag_key) primary key, not EXISTS: PostgreSQL turns EXISTS
      // into a semi-join whose plan depends on fresh statistics (4 s per page over 100k keys right
      // after a bulk load); this form costs one index probe per key scanned, whatever the statistics.
      query = query.where(
        (eb) =>
          eb
            .selectFrom('key_tags')
            .select('key_tags.tag_value')
            .whereRef('key_tags.key_id', '=', 'keys.id')
            .where('key_tags.tag_key', '=', key),
        '=',
        value,
      );
    }
    if (filter.q !== undefined) {
      const pattern = likeLiteral(filter.q);
      query = query.where(({ or }) =>
        or([
          containsIgnoringCase('keys.name', pattern),
          containsIgnoringCase('keys.description', pattern),
          containsIgnoringCase('keys.owner', pattern),
        ]),
      );
    }
    if (after !== null) query = query.where('keys.name', '>', after);
    const rows = await query.orderBy('keys.name').limit(limit).execute();
    return rows.map(keyFromRow);
  }

  async listKeysOwnedBy(owner: string): Promise<KeyRecord[]> {
    const rows = await this.db.selectFrom('keys').selectAll().where('owner', '=', owner).orderBy('namespace').orderBy('name').execute();
    return rows.map(keyFromRow);
  }

  async insertKey(key: KeyRecord): Promise<void> {
    try {
      await this.db.insertInto('keys').values(keyToRow(key)).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new StoreConflictError(`key '${key.name}' already exists in namespace '${key.namespace}'`);
      throw error;
    }
    await this.#writeTags(key);
  }

  async updateKey(key: KeyRecord): Promise<void> {
    const { id, ...row } = keyToRow(key);
    await this.db.updateTable('keys').set(row).where('id', '=', id).execute();
    await this.db.deleteFrom('key_tags').where('key_id', '=', id).execute();
    await this.#writeTags(key);
  }

  async #writeTags(key: KeyRecord): Promise<void> {
    const rows = Object.entries(key.tags).map(([tagKey, tagValue]) => ({ key_id: key.id, tag_key: tagKey, tag_value: tagValue }));
    if (rows.length > 0) await this.db.insertInto('key_tags').values(rows).execute();
  }

  async getVersions(keyId: string): Promise<VersionRecord[]> {
    const rows = await this.db.selectFrom('key_versions').selectAll().where('key_id', '=', keyId).orderBy('version').execute();
    return rows.map(versionFromRow);
  }

  async insertVersion(version: VersionRecord): Promise<void> {
    await this.db.insertInto('key_versions').values(versionToRow(version)).execute();
  }

  async updateVersion(version: VersionRecord): Promise<void> {
    const { key_id, version: n, ...row } = versionToRow(version);
    await this.db.updateTable('key_versions').set(row).where('key_id', '=', key_id).where('version', '=', n).execute();
  }

  async addUses(keyId: string, version: number, count: number): Promise<void> {
    await this.db.executeQuery(ADD_USES(this.db, keyId, version, count));
  }

  async reserveUses(keyId: string, version: number, count: number, limit: number): Promise<number> {
    // Optimistic compare-and-set on `reserved`: no row locks, the same SQL on both dialects.
    for (;;) {
      const row = await this.db
        .selectFrom('key_versions')
        .select('reserved')
        .where('key_id', '=', keyId)
        .where('version', '=', version)
        .executeTakeFirst();
      if (row === undefined) return 0;
      const reserved = num(row.reserved);
      const grant = Math.max(0, Math.min(count, limit - reserved));
      if (grant === 0) return 0;
      const result = await this.db
        .updateTable('key_versions')
        .set({ reserved: reserved + grant })
        .where('key_id', '=', keyId)
        .where('version', '=', version)
        .where('reserved', '=', reserved)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) return grant;
    }
  }

  async keysNeedingAttention(now: string, limit: number): Promise<KeyRecord[]> {
    const rows = await this.db
      .selectFrom('keys')
      .selectAll()
      .where('next_check_at', '<=', now)
      .orderBy('next_check_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(keyFromRow);
  }

  async appendEvents(events: readonly KeyEvent[]): Promise<void> {
    // 1,000 rows of 7 columns per statement, under SQLite's 32,766 bound parameters (offboarding an owner of many keys).
    for (let at = 0; at < events.length; at += 1000) await this.#insertEvents(events.slice(at, at + 1000));
  }

  async #insertEvents(events: readonly KeyEvent[]): Promise<void> {
    await this.db
      .insertInto('events')
      .values(
        events.map((e) => ({
          time: e.time,
          type: e.type,
          namespace: e.namespace,
          key_name: e.key,
          key_id: e.keyId,
          key_version: e.version,
          data: JSON.stringify(e.data),
        })),
      )
      .execute();
  }

  async listEvents(afterId: number, limit: number): Promise<StoredKeyEvent[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: num(r.id),
      type: r.type as EventType,
      time: r.time,
      namespace: r.namespace,
      key: r.key_name,
      keyId: r.key_id,
      version: r.key_version,
      data: JSON.parse(r.data) as KeyEvent['data'],
    }));
  }

  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return row?.id === null || row?.id === undefined ? 0 : num(row.id);
  }

  async getPrincipal(id: string): Promise<PrincipalRecord | null> {
    const row = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? principalFromRow(row) : null;
  }

  async listPrincipals(limit: number, after: string | null): Promise<PrincipalRecord[]> {
    let query = this.db.selectFrom('principals').selectAll();
    if (after !== null) query = query.where('id', '>', after);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map(principalFromRow);
  }

  async insertPrincipal(p: PrincipalRecord): Promise<void> {
    try {
      await this.db
        .insertInto('principals')
        .values({
          id: p.id,
          kind: p.kind,
          roles: JSON.stringify(p.roles),
          environments: JSON.stringify(p.environments),
          teams: JSON.stringify(p.teams),
          created_at: p.createdAt,
          disabled: p.disabled ? 1 : 0,
          offboarded_at: p.offboardedAt,
        })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new StoreConflictError(`principal '${p.id}' already exists`);
      throw error;
    }
  }

  async getToken(id: string): Promise<TokenRecord | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? tokenFromRow(row) : null;
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | null> {
    const row = await this.db.selectFrom('tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    return row ? tokenFromRow(row) : null;
  }

  async insertToken(t: TokenRecord): Promise<void> {
    await this.db
      .insertInto('tokens')
      .values({
        id: t.id,
        principal_id: t.principalId,
        token_hash: t.tokenHash,
        description: t.description,
        created_at: t.createdAt,
        expires_at: t.expiresAt,
        revoked_at: t.revokedAt,
      })
      .execute();
  }

  async revokeToken(id: string, at: string): Promise<void> {
    await this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  async listGrants(keyId: string): Promise<GrantRecord[]> {
    const rows = await this.db.selectFrom('grants').selectAll().where('key_id', '=', keyId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id,
      keyId: r.key_id,
      principal: r.principal,
      operations: JSON.parse(r.operations) as KeyOperation[],
      createdAt: r.created_at,
      createdBy: r.created_by,
    }));
  }

  async insertGrant(g: GrantRecord): Promise<void> {
    await this.db
      .insertInto('grants')
      .values({
        id: g.id,
        key_id: g.keyId,
        principal: g.principal,
        operations: JSON.stringify(g.operations),
        created_at: g.createdAt,
        created_by: g.createdBy,
      })
      .execute();
  }

  async deleteGrant(keyId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('grants').where('key_id', '=', keyId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async deleteMeta(name: string): Promise<void> {
    await this.db.deleteFrom('meta').where('name', '=', name).execute();
  }

  tableEditor(): TableEditor {
    return tableEditor(this.db);
  }

  async claimMeta(name: string, value: string): Promise<string> {
    await this.db
      .insertInto('meta')
      .values({ name, value })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await this.db.selectFrom('meta').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }

  async lockAuditHead(chain: string): Promise<AuditChainHead> {
    const lock = async () => (await this.db.executeQuery<{ seq: number | string; hash: string }>(LOCK_AUDIT_HEAD(this.db, chain))).rows[0];
    let row = await lock();
    if (row === undefined) {
      await this.db
        .insertInto('audit_chains')
        .values({ chain, seq: 0, hash: GENESIS_HASH })
        .onConflict((oc) => oc.column('chain').doNothing())
        .execute();
      row = await lock();
    }
    if (row === undefined) throw new Error(`the head of audit chain '${chain}' could not be locked`);
    return { chain, seq: num(row.seq), hash: row.hash };
  }

  async appendAudit(records: readonly ChainedAuditRecord[]): Promise<void> {
    const last = records.at(-1);
    if (last === undefined) return;
    await insertAuditRecords(this.db, records);
    await this.db.executeQuery(MOVE_AUDIT_HEAD(this.db, last.chain, last.chainSeq, last.hash));
  }

  async listAudit(afterSeq: number, limit: number): Promise<StoredAuditRecord[]> {
    return this.queryAudit({}, afterSeq, limit);
  }

  async queryAudit(query: AuditQuery, afterSeq: number, limit: number): Promise<StoredAuditRecord[]> {
    let select = this.db.selectFrom('audit_events').selectAll().where('seq', '>', afterSeq);
    if (query.namespace !== undefined) select = select.where('namespace', '=', query.namespace);
    if (query.key !== undefined) select = select.where('key_name', '=', query.key);
    if (query.keyVersion !== undefined) select = select.where('key_version', '=', query.keyVersion);
    if (query.actor !== undefined) select = select.where('actor', '=', query.actor);
    if (query.action !== undefined) select = select.where('action', '=', query.action);
    if (query.outcome !== undefined) select = select.where('outcome', '=', query.outcome);
    if (query.from !== undefined) select = select.where('time', '>=', query.from);
    if (query.to !== undefined) select = select.where('time', '<', query.to);
    const rows = await select.orderBy('seq').limit(limit).execute();
    return rows.map(auditFromRow);
  }

  async listAuditChain(chain: string, afterChainSeq: number, limit: number): Promise<StoredAuditRecord[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .selectAll()
      .where('chain', '=', chain)
      .where('chain_seq', '>', afterChainSeq)
      .orderBy('chain_seq')
      .limit(limit)
      .execute();
    return rows.map(auditFromRow);
  }

  async auditHeads(): Promise<AuditChainHead[]> {
    const rows = await this.db.selectFrom('audit_chains').selectAll().where('seq', '>', 0).orderBy('chain').execute();
    return rows.map((r) => ({ chain: r.chain, seq: num(r.seq), hash: r.hash }));
  }

  async auditChainNames(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('audit_events')
      .select('chain')
      .distinct()
      .where('chain', 'is not', null)
      .orderBy('chain')
      .execute();
    return rows.map((r) => r.chain as string);
  }

  async insertAuditCheckpoint(checkpoint: Omit<AuditCheckpointView, 'id'>): Promise<number> {
    const row = await this.db
      .insertInto('audit_checkpoints')
      .values({
        time: checkpoint.time,
        node: checkpoint.node,
        heads: JSON.stringify(checkpoint.heads),
        key_id: checkpoint.keyId,
        signature: checkpoint.signature,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return num(row.id);
  }

  async listAuditCheckpoints(afterId: number, limit: number): Promise<AuditCheckpointView[]> {
    const rows = await this.db.selectFrom('audit_checkpoints').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: num(r.id),
      time: r.time,
      node: r.node,
      heads: JSON.parse(r.heads) as AuditChainHead[],
      keyId: r.key_id,
      signature: r.signature,
    }));
  }

  async insertWebhook(w: WebhookRecord): Promise<void> {
    await this.db
      .insertInto('webhooks')
      .values({
        id: w.id,
        url: w.url,
        events: JSON.stringify(w.events),
        secret: toBytes(w.secret),
        created_at: w.createdAt,
        created_by: w.createdBy,
        ...progressToRow(w),
      })
      .execute();
  }

  async getWebhook(id: string): Promise<WebhookRecord | null> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? webhookFromRow(row) : null;
  }

  async listWebhooks(limit: number, after: string | null): Promise<WebhookRecord[]> {
    let query = this.db.selectFrom('webhooks').selectAll();
    if (after !== null) query = query.where('id', '>', after);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map(webhookFromRow);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    await this.db.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
    const result = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async updateWebhookProgress(id: string, progress: WebhookProgress): Promise<boolean> {
    const result = await this.db.updateTable('webhooks').set(progressToRow(progress)).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async appendWebhookDelivery(d: WebhookDeliveryRecord): Promise<void> {
    await this.db
      .insertInto('webhook_deliveries')
      .values({
        id: d.id,
        webhook_id: d.webhookId,
        event_id: d.eventId,
        event_type: d.eventType,
        attempt: d.attempt,
        time: d.time,
        status: d.status,
        error: d.error,
        duration_ms: d.durationMs,
        next_retry_at: d.nextRetryAt,
      })
      .execute();
  }

  async listWebhookDeliveries(webhookId: string, limit: number, beforeSeq: number | null): Promise<StoredWebhookDelivery[]> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
    if (beforeSeq !== null) query = query.where('seq', '<', beforeSeq);
    const rows = await query.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      seq: num(r.seq),
      id: r.id,
      webhookId: r.webhook_id,
      eventId: num(r.event_id),
      eventType: r.event_type as EventType,
      attempt: r.attempt,
      time: r.time,
      status: r.status,
      error: r.error,
      durationMs: r.duration_ms,
      nextRetryAt: r.next_retry_at,
    }));
  }

  async usage(namespace: string, keyName: string, since: string | null): Promise<UsageRow[]> {
    let query = this.db
      .selectFrom('audit_events')
      .select((eb) => [
        'key_version',
        'actor',
        'action',
        eb.fn.countAll<number | string>().as('count'),
        eb.fn.min('time').as('first_at'),
        eb.fn.max('time').as('last_at'),
      ])
      .where('namespace', '=', namespace)
      .where('key_name', '=', keyName)
      .where('outcome', '=', 'success')
      // The pattern has no `_` or `%` before the final wildcard, so it needs no ESCAPE clause.
      .where('action', 'like', 'crypto.%')
      .where('key_version', 'is not', null)
      .where('actor', 'is not', null);
    if (since !== null) query = query.where('time', '>=', since);
    const rows = await query
      .groupBy(['key_version', 'actor', 'action'])
      .orderBy('key_version', 'desc')
      .orderBy('actor')
      .orderBy('action')
      .execute();
    return rows.map((r) => ({
      version: r.key_version as number,
      principal: r.actor as string,
      operation: r.action.slice('crypto.'.length),
      count: num(r.count),
      firstAt: r.first_at as string,
      lastAt: r.last_at as string,
    }));
  }

  async lastUses(namespace: string): Promise<LastUseRow[]> {
    // The same conditions as usage(), grouped by key only: one pass over the namespace's slice of
    // the (namespace, key_name, time) index instead of one query per key.
    const rows = await this.db
      .selectFrom('audit_events')
      .select((eb) => ['key_name', eb.fn.max('time').as('last_at')])
      .where('namespace', '=', namespace)
      .where('key_name', 'is not', null)
      .where('outcome', '=', 'success')
      .where('action', 'like', 'crypto.%')
      .where('key_version', 'is not', null)
      .where('actor', 'is not', null)
      .groupBy('key_name')
      .orderBy('key_name')
      .execute();
    return rows.map((r) => ({ key: r.key_name as string, lastAt: r.last_at as string }));
  }

  /** Incidents (store/incident-ops.ts). */
  insertIncident(incident: IncidentRecord): Promise<void> {
    return incidents.insertIncident(this.db, incident);
  }
  getIncident(id: string): Promise<IncidentRecord | null> {
    return incidents.getIncident(this.db, id);
  }
  updateIncident(id: string, change: IncidentChange): Promise<boolean> {
    return incidents.updateIncident(this.db, id, change);
  }
  listIncidents(filter: IncidentFilter, limit: number, after: IncidentCursor | null): Promise<IncidentRecord[]> {
    return incidents.listIncidents(this.db, filter, limit, after);
  }
  listOpenIncidents(keyId: string | null, limit: number): Promise<IncidentRecord[]> {
    return incidents.listOpenIncidents(this.db, keyId, limit);
  }
  incidentsDueForRaise(now: string, limit: number): Promise<IncidentRecord[]> {
    return incidents.incidentsDueForRaise(this.db, now, limit);
  }
  putIncidentStep(step: IncidentStepRecord): Promise<void> {
    return incidents.putIncidentStep(this.db, step);
  }
  listIncidentSteps(incidentIds: readonly string[]): Promise<IncidentStepRecord[]> {
    return incidents.listIncidentSteps(this.db, incidentIds);
  }
  ackIncident(ack: IncidentAckRecord): Promise<void> {
    return incidents.ackIncident(this.db, ack);
  }
  listIncidentAcks(incidentIds: readonly string[]): Promise<IncidentAckRecord[]> {
    return incidents.listIncidentAcks(this.db, incidentIds);
  }
  heartbeatNode(node: NodeRecord): Promise<void> {
    return incidents.heartbeatNode(this.db, node);
  }
  removeNode(id: string): Promise<void> {
    return incidents.removeNode(this.db, id);
  }
  liveNodes(since: string): Promise<NodeRecord[]> {
    return incidents.liveNodes(this.db, since);
  }
  versionActivity(query: VersionActivityQuery): Promise<VersionActivityRow[]> {
    return incidents.versionActivity(this.db, query);
  }

  updatePrincipalStatus(id: string, status: Pick<PrincipalRecord, 'disabled' | 'offboardedAt'>): Promise<boolean> {
    return governance.updatePrincipalStatus(this.db, id, status);
  }
  revokePrincipalTokens(principalId: string, at: string): Promise<string[]> {
    return governance.revokePrincipalTokens(this.db, principalId, at);
  }
  deleteGrantsOf(principal: string): Promise<number> {
    return governance.deleteGrantsOf(this.db, principal);
  }
  keysGrantedTo(principal: string): Promise<string[]> {
    return governance.keysGrantedTo(this.db, principal);
  }
  insertApproval(approval: ApprovalRecord): Promise<void> {
    return governance.insertApproval(this.db, approval);
  }
  getApproval(id: string): Promise<ApprovalRecord | null> {
    return governance.getApproval(this.db, id);
  }
  updateApproval(approval: ApprovalRecord): Promise<boolean> {
    return governance.updateApproval(this.db, approval);
  }
  listApprovals(filter: ApprovalFilter, limit: number, after: { createdAt: string; id: string } | null): Promise<ApprovalRecord[]> {
    return governance.listApprovals(this.db, filter, limit, after);
  }

  insertAlert(alert: AlertRecord): Promise<void> {
    return alerts.insertAlert(this.db, alert);
  }
  updateAlert(alert: AlertRecord): Promise<void> {
    return alerts.updateAlert(this.db, alert);
  }
  getAlert(id: string): Promise<StoredAlert | null> {
    return alerts.getAlert(this.db, id);
  }
  findUnresolvedAlerts(dedupKeys: readonly string[]): Promise<StoredAlert[]> {
    return alerts.findUnresolvedAlerts(this.db, dedupKeys);
  }
  listAlerts(filter: AlertFilter, limit: number, beforeSeq: number | null): Promise<StoredAlert[]> {
    return alerts.listAlerts(this.db, filter, limit, beforeSeq);
  }
  countAlerts(state: AlertState): Promise<Array<{ type: AlertType; count: number }>> {
    return alerts.countAlerts(this.db, state);
  }
  listAlertCursors(): Promise<AlertCursor[]> {
    return alerts.listAlertCursors(this.db);
  }
  saveAlertCursors(cursors: readonly AlertCursor[]): Promise<void> {
    return alerts.saveAlertCursors(this.db, cursors);
  }
  getDetectorStates(detector: string, subjects: readonly string[]): Promise<Map<string, string>> {
    return alerts.getDetectorStates(this.db, detector, subjects);
  }
  putDetectorStates(detector: string, rows: readonly DetectorStateRow[], at: string): Promise<void> {
    return alerts.putDetectorStates(this.db, detector, rows, at);
  }
  pruneDetectorStates(detector: string, before: string): Promise<number> {
    return alerts.pruneDetectorStates(this.db, detector, before);
  }

  getTotp(principalId: string): Promise<TotpRecord | null> {
    return totp.getTotp(this.db, principalId);
  }
  insertTotp(record: TotpRecord): Promise<void> {
    return totp.insertTotp(this.db, record, isUniqueViolation);
  }
  deleteTotp(principalId: string): Promise<boolean> {
    return totp.deleteTotp(this.db, principalId);
  }
  confirmTotp(principalId: string, at: string, step: number): Promise<boolean> {
    return totp.confirmTotp(this.db, principalId, at, step);
  }
  useTotpStep(principalId: string, step: number): Promise<boolean> {
    return totp.useTotpStep(this.db, principalId, step);
  }

  currentWrappingKey(namespace: string, now: string): Promise<WrappingKeyRecord | null> {
    return byok.currentWrappingKey(this.db, namespace, now);
  }
  getWrappingKey(id: string): Promise<WrappingKeyRecord | null> {
    return byok.getWrappingKey(this.db, id);
  }
  insertWrappingKey(record: WrappingKeyRecord): Promise<void> {
    return byok.insertWrappingKey(this.db, record);
  }
  insertImportToken(record: ImportTokenRecord): Promise<void> {
    return byok.insertImportToken(this.db, record);
  }
  getImportToken(tokenHash: string): Promise<ImportTokenRecord | null> {
    return byok.getImportToken(this.db, tokenHash);
  }
  useImportToken(tokenHash: string, at: string): Promise<boolean> {
    return byok.useImportToken(this.db, tokenHash, at);
  }
  pruneImportMaterial(now: string): Promise<number> {
    return byok.pruneImportMaterial(this.db, now);
  }

  listTlsIdentities(principalIds: readonly string[]): Promise<Map<string, string[]>> {
    return tlsIdentities.listTlsIdentities(this.db, principalIds);
  }
  setTlsIdentities(principalId: string, identities: readonly string[]): Promise<void> {
    return tlsIdentities.setTlsIdentities(this.db, principalId, identities, isUniqueViolation);
  }
  findTlsIdentities(identities: readonly string[]): Promise<TlsIdentityRow[]> {
    return tlsIdentities.findTlsIdentities(this.db, identities);
  }
}

function auditFromRow(r: Selectable<AuditTable>): StoredAuditRecord {
  return {
    seq: num(r.seq),
    time: r.time,
    actor: r.actor,
    action: r.action,
    namespace: r.namespace,
    key: r.key_name,
    keyVersion: r.key_version,
    outcome: r.outcome as AuditOutcome,
    errorCode: r.error_code,
    requestId: r.request_id,
    source: r.source,
    details: JSON.parse(r.details) as AuditRecord['details'],
    chain: r.chain ?? '',
    chainSeq: r.chain_seq === null ? 0 : num(r.chain_seq),
    prevHash: r.prev_hash ?? '',
    hash: r.hash ?? '',
  };
}

function webhookFromRow(r: Selectable<WebhookTable>): WebhookRecord {
  return {
    id: r.id,
    url: r.url,
    events: JSON.parse(r.events) as EventType[],
    secret: fromBytes(r.secret),
    createdAt: r.created_at,
    createdBy: r.created_by,
    state: r.state as WebhookState,
    failureReason: r.failure_reason,
    cursor: num(r.cursor),
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastDeliveryAt: r.last_delivery_at,
  };
}

const progressToRow = (p: WebhookProgress) => ({
  state: p.state,
  failure_reason: p.failureReason,
  cursor: p.cursor,
  attempts: p.attempts,
  next_attempt_at: p.nextAttemptAt,
  last_delivery_at: p.lastDeliveryAt,
});

function principalFromRow(r: Selectable<Database['principals']>): PrincipalRecord {
  return {
    id: r.id,
    kind: r.kind as PrincipalKind,
    roles: JSON.parse(r.roles) as Role[],
    environments: JSON.parse(r.environments) as Environment[],
    teams: JSON.parse(r.teams) as string[],
    createdAt: r.created_at,
    disabled: r.disabled === 1,
    offboardedAt: r.offboarded_at,
  };
}

function tokenFromRow(r: Selectable<Database['tokens']>): TokenRecord {
  return {
    id: r.id,
    principalId: r.principal_id,
    tokenHash: r.token_hash,
    description: r.description,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

/** Runs a function over a consistent read-only snapshot of the database. */
export type SnapshotRunner = <T>(fn: (reader: TableReader) => Promise<T>) => Promise<T>;

/**
 * The one Store implementation; the dialect adapters only build the Kysely
 * instance. Driver objects stay inside the adapters.
 */
export class KyselyStore extends KyselyOps implements Store {
  readonly dialect: Dialect;
  readonly #snapshot: SnapshotRunner | null;

  /** @param snapshot how to read a snapshot without blocking writers (SQLite: a second, read-only connection); PostgreSQL needs none. */
  constructor(db: Kysely<Database>, dialect: Dialect, channel: ChangeChannel, snapshot: SnapshotRunner | null = null) {
    super(db, channel);
    this.dialect = dialect;
    this.#snapshot = snapshot;
  }

  readSnapshot<T>(fn: (reader: TableReader) => Promise<T>): Promise<T> {
    if (this.#snapshot !== null) return this.#snapshot(fn);
    // One pooled connection in a read-only REPEATABLE READ transaction: one snapshot for every page, writers unhindered.
    return this.db.connection().execute(async (connection) => {
      await sql`begin isolation level repeatable read read only`.execute(connection);
      try {
        return await fn(tableReader(connection));
      } finally {
        await sql`rollback`.execute(connection);
      }
    });
  }

  countRows(): Promise<Map<TableName, number>> {
    return countRows(this.db);
  }

  loadTables(wipe: boolean, fill: (writer: TableWriter) => Promise<void>): Promise<void> {
    return loadTables(this.db, this.dialect, wipe, fill);
  }

  onChange(listener: ChangeListener): () => void {
    return this.channel.listen(listener);
  }

  changesReliable(): boolean {
    return this.channel.reliable();
  }

  isLeader(): Promise<boolean> {
    return this.channel.leader();
  }

  // async so that misuse (the guard in `db`) rejects rather than throws synchronously.
  async transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const hooks: TransactionHook[] = [];
    let result: T;
    try {
      result = await this.db.transaction().execute((tx) => {
        const ops = new KyselyOps(tx, this.channel, hooks);
        return activeTransaction === null ? fn(ops) : activeTransaction.run(ops, () => fn(ops));
      });
    } catch (error) {
      for (const hook of hooks) hook(false);
      throw error;
    }
    for (const hook of hooks) hook(true);
    return result;
  }

  async migrate(target?: number): Promise<void> {
    return migrate(this.db, this.dialect, target);
  }

  async schemaVersion(): Promise<number> {
    const row = await this.db.selectFrom('meta').select('value').where('name', '=', 'schema_version').executeTakeFirst();
    return row === undefined ? 0 : Number(row.value);
  }

  async close(): Promise<void> {
    await this.channel.close();
    await this.db.destroy();
  }
}
