import { randomUUID } from 'node:crypto';
import { fingerprint, getAlgorithm } from '@keyward/crypto';
import { type CreateKeyRequest, type KeyList, type KeyListQuery, type KeyView, KeywardError, type PatchKeyRequest } from '@keyward/wire';
import { CLASS_DEFAULTS, DEFAULT_CLASS, DEFAULT_ENVIRONMENT, MAX_DELETION_WINDOW_DAYS } from '../keys/class-defaults.js';
import { addMs, parseDuration } from '../keys/duration.js';
import { zero } from '../seal/zero.js';
import type { KeyFilter, KeyRecord, RotationTrigger, VersionRecord } from '../store/records.js';
import { type Store, StoreConflictError, type StoreOps } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';
import { findVersion, type KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { keyView } from './views.js';

export interface ListKeysInput extends Omit<KeyListQuery, 'limit' | 'cursor'> {
  limit: number;
  cursor: string | null;
}

/** Version states from which a version can still be declared compromised. */
const LIVE_STATES: readonly VersionRecord['state'][] = ['pre_active', 'active', 'deactivated'];

function checkDeletionWindow(days: number, keyClass: KeyRecord['class'], field = 'deletionWindowDays'): void {
  const min = CLASS_DEFAULTS[keyClass].minDeletionWindowDays;
  if (days > MAX_DELETION_WINDOW_DAYS) throw new KeywardError('invalid_request', `${field}: must be at most ${MAX_DELETION_WINDOW_DAYS}`);
  if (days < min) {
    throw new KeywardError('policy_violation', `${field}: class ${keyClass} requires a deletion window of at least ${min} days`);
  }
}

function nextRotation(period: string | null, from: Date): string | null {
  return period === null ? null : addMs(from, parseDuration('rotationPeriod', period)).toISOString();
}

export function encodeCursor(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  if (name.length === 0 || encodeCursor(name) !== cursor)
    throw new KeywardError('invalid_request', 'cursor: not a cursor this server issued');
  return name;
}

/** Creating and managing keys: every change is one transaction with its audit record. */
export class KeyService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #directory: KeyDirectory;

  constructor(deps: { gate: Gate; store: Store; keyring: Keyring; directory: KeyDirectory }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#directory = deps.directory;
  }

  create(ctx: CallContext, req: CreateKeyRequest): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.create', async (scope) => {
      scope.key = req.name;
      scope.authorize();
      const keyClass = req.class ?? DEFAULT_CLASS;
      const defaults = CLASS_DEFAULTS[keyClass];
      const rotationPeriod = req.rotationPeriod ?? defaults.rotationPeriod;
      if (rotationPeriod !== null) parseDuration('rotationPeriod', rotationPeriod);
      const deletionWindowDays = req.deletionWindowDays ?? defaults.deletionWindowDays;
      checkDeletionWindow(deletionWindowDays, keyClass);
      const spec = getAlgorithm(req.algorithm);
      const now = scope.now;
      const record: KeyRecord = {
        id: randomUUID(),
        namespace: ctx.namespace,
        name: req.name,
        algorithm: req.algorithm,
        usage: spec.usage,
        state: 'enabled',
        owner: req.owner,
        class: keyClass,
        environment: req.environment ?? DEFAULT_ENVIRONMENT,
        description: req.description ?? '',
        tags: req.tags ?? {},
        rotationPeriod,
        maxUsesPerVersion: req.maxUsesPerVersion ?? null,
        nextRotationAt: nextRotation(rotationPeriod, now),
        primaryVersion: 1,
        exportable: req.exportable ?? false,
        deletionWindowDays,
        deletionDate: null,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      };
      scope.details.algorithm = req.algorithm;
      scope.keyVersion = 1;
      const version = await this.#inTransaction(async (tx) => {
        await tx.insertKey(record);
        const v1 = await this.#newVersion(tx, record, 1, 'created', now);
        await tx.announce({ kind: 'key', namespace: record.namespace, name: record.name, id: record.id });
        await scope.recordIn(tx);
        return v1;
      });
      this.#directory.forget(record.namespace, record.name);
      return keyView(record, [version]);
    });
  }

  list(ctx: CallContext, input: ListKeysInput): Promise<KeyList> {
    return this.#gate.run(ctx, 'key.list', async (scope) => {
      scope.authorize();
      const filter: KeyFilter = {};
      if (input.owner !== undefined) filter.owner = input.owner;
      if (input.class !== undefined) filter.class = input.class;
      if (input.environment !== undefined) filter.environment = input.environment;
      if (input.state !== undefined) filter.state = input.state;
      if (input.algorithm !== undefined) filter.algorithm = input.algorithm;
      if (input.q !== undefined) filter.q = input.q;
      if (input.tag !== undefined) {
        const at = input.tag.indexOf(':');
        if (at <= 0) throw new KeywardError('invalid_request', 'tag: must be key:value');
        filter.tag = { key: input.tag.slice(0, at), value: input.tag.slice(at + 1) };
      }
      const after = input.cursor === null ? null : decodeCursor(input.cursor);
      const rows = await this.#store.listKeys(ctx.namespace, filter, input.limit + 1, after);
      const page = rows.slice(0, input.limit);
      const last = page.at(-1);
      return { keys: page.map((k) => keyView(k)), nextCursor: rows.length > input.limit && last ? encodeCursor(last.name) : null };
    });
  }

  get(ctx: CallContext, name: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.read', async (scope) => {
      scope.key = name;
      const loaded = await this.#directory.load(ctx.namespace, name);
      scope.authorize(loaded);
      // Fresh versions: use counts move with every operation and are not cached.
      return keyView(loaded.record, await this.#store.getVersions(loaded.record.id));
    });
  }

  patch(ctx: CallContext, name: string, req: PatchKeyRequest): Promise<KeyView> {
    // Moving a key to another owner, class or environment is reserved to key administrators;
    // an owner may edit the rest of its metadata.
    const reclassifies = req.owner !== undefined || req.class !== undefined || req.environment !== undefined;
    return this.#gate.run(ctx, reclassifies ? 'key.reclassify' : 'key.update', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions) => {
        const next: KeyRecord = { ...key };
        if (req.owner !== undefined) next.owner = req.owner;
        if (req.class !== undefined) next.class = req.class;
        if (req.environment !== undefined) next.environment = req.environment;
        if (req.description !== undefined) next.description = req.description;
        if (req.tags !== undefined) next.tags = req.tags;
        if (req.maxUsesPerVersion !== undefined) next.maxUsesPerVersion = req.maxUsesPerVersion;
        if (req.deletionWindowDays !== undefined) next.deletionWindowDays = req.deletionWindowDays;
        if (req.rotationPeriod !== undefined) {
          next.rotationPeriod = req.rotationPeriod;
          const primary = versions.find((v) => v.version === key.primaryVersion);
          next.nextRotationAt = nextRotation(req.rotationPeriod, new Date(primary?.activatedAt ?? key.createdAt));
        }
        if (req.deletionWindowDays !== undefined || req.class !== undefined) checkDeletionWindow(next.deletionWindowDays, next.class);
        scope.details.fields = Object.keys(req).sort().join(',');
        return { key: next };
      }),
    );
  }

  rotate(ctx: CallContext, name: string, reason: string | null, trigger: RotationTrigger = 'manual'): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.rotate', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions, tx) => {
        if (key.state === 'pending_deletion' || key.state === 'destroyed') {
          throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot rotate`);
        }
        const n = Math.max(...versions.map((v) => v.version)) + 1;
        await this.#newVersion(tx, key, n, trigger, scope.now);
        scope.keyVersion = n;
        scope.details.trigger = trigger;
        if (reason !== null) scope.details.reason = reason;
        return { key: { ...key, primaryVersion: n, nextRotationAt: nextRotation(key.rotationPeriod, scope.now) } };
      }),
    );
  }

  setEnabled(ctx: CallContext, name: string, enabled: boolean): Promise<KeyView> {
    return this.#gate.run(ctx, enabled ? 'key.enable' : 'key.disable', (scope) =>
      this.#mutate(ctx, scope, name, async (key) => {
        if (key.state !== 'enabled' && key.state !== 'disabled') {
          throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot be ${enabled ? 'enabled' : 'disabled'}`);
        }
        return { key: { ...key, state: enabled ? 'enabled' : 'disabled' } };
      }),
    );
  }

  deactivateVersion(ctx: CallContext, name: string, n: number): Promise<KeyView> {
    return this.#gate.run(ctx, 'version.deactivate', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions) => {
        scope.keyVersion = n;
        const version = findVersion({ record: key, versions, grants: [] }, n);
        if (n === key.primaryVersion) {
          throw new KeywardError(
            'invalid_state',
            `key version ${n} of '${key.name}' is the primary version; rotate before deactivating it`,
          );
        }
        if (version.state !== 'active' && version.state !== 'pre_active') {
          throw new KeywardError('invalid_state', `key version ${n} of '${key.name}' is ${version.state} and cannot be deactivated`);
        }
        return { key, version: { ...version, state: 'deactivated', deactivatedAt: scope.now.toISOString() } };
      }),
    );
  }

  /**
   * Declares a version compromised: from now on it only decrypts and
   * verifies, and only for principals allowed to recover data. If it was the
   * primary version the key rotates at once, in the same transaction.
   */
  compromiseVersion(ctx: CallContext, name: string, n: number, reason: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'version.compromise', async (scope) => {
      const view = await this.#mutate(ctx, scope, name, async (key, versions, tx) => {
        scope.keyVersion = n;
        scope.details.reason = reason;
        const version = findVersion({ record: key, versions, grants: [] }, n);
        if (!LIVE_STATES.includes(version.state)) {
          throw new KeywardError(
            'invalid_state',
            `key version ${n} of '${key.name}' is ${version.state} and cannot be declared compromised`,
          );
        }
        const compromised: VersionRecord = { ...version, state: 'compromised', compromisedAt: scope.now.toISOString() };
        if (n !== key.primaryVersion) return { key, version: compromised };
        if (key.state === 'pending_deletion' || key.state === 'destroyed') return { key, version: compromised };
        await tx.updateVersion(compromised);
        const next = Math.max(...versions.map((v) => v.version)) + 1;
        await this.#newVersion(tx, key, next, 'event', scope.now);
        scope.details.rotatedTo = next;
        return { key: { ...key, primaryVersion: next, nextRotationAt: nextRotation(key.rotationPeriod, scope.now) } };
      });
      this.#keyring.forgetKey(view.id);
      return view;
    });
  }

  /** Schedules crypto-shredding after a waiting period of `days` (7–30, never below the class minimum). */
  scheduleDeletion(ctx: CallContext, name: string, days: number | null): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.schedule-deletion', (scope) =>
      this.#mutate(ctx, scope, name, async (key) => {
        if (key.state !== 'enabled' && key.state !== 'disabled') {
          throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot be scheduled for deletion`);
        }
        const window = days ?? key.deletionWindowDays;
        checkDeletionWindow(window, key.class, 'days');
        scope.details.days = window;
        return { key: { ...key, state: 'pending_deletion', deletionDate: addMs(scope.now, window * 86_400_000).toISOString() } };
      }),
    );
  }

  cancelDeletion(ctx: CallContext, name: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.cancel-deletion', (scope) =>
      this.#mutate(ctx, scope, name, async (key) => {
        if (key.state !== 'pending_deletion') {
          throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state}, not pending deletion`);
        }
        return { key: { ...key, state: 'disabled', deletionDate: null } };
      }),
    );
  }

  /**
   * Loads a key, authorizes, applies `change` and writes the key (and a
   * changed version) with the audit record in one transaction.
   */
  async #mutate(
    ctx: CallContext,
    scope: Scope,
    name: string,
    change: (key: KeyRecord, versions: VersionRecord[], tx: StoreOps) => Promise<{ key: KeyRecord; version?: VersionRecord }>,
  ): Promise<KeyView> {
    scope.key = name;
    scope.authorize(await this.#directory.load(ctx.namespace, name));
    const result = await this.#inTransaction(async (tx) => {
      // Re-read inside the transaction so concurrent changes are not lost.
      const current = await tx.getKey(ctx.namespace, name);
      if (current === null) throw new KeywardError('not_found', `key '${name}' does not exist in namespace '${ctx.namespace}'`);
      const { key, version } = await change(current, await tx.getVersions(current.id), tx);
      const updated: KeyRecord = { ...key, updatedAt: scope.now.toISOString() };
      await tx.updateKey(updated);
      if (version !== undefined) await tx.updateVersion(version);
      await tx.announce({ kind: 'key', namespace: current.namespace, name: current.name, id: current.id });
      await scope.recordIn(tx);
      return { key: updated, versions: await tx.getVersions(current.id) };
    });
    this.#directory.forget(ctx.namespace, name);
    return keyView(result.key, result.versions);
  }

  async #newVersion(tx: StoreOps, key: KeyRecord, n: number, trigger: RotationTrigger, now: Date): Promise<VersionRecord> {
    const generated = getAlgorithm(key.algorithm).generate();
    try {
      const { material, kekVersion } = await this.#keyring.wrapMaterial(tx, key, n, generated.secret, now);
      const version: VersionRecord = {
        keyId: key.id,
        version: n,
        state: 'active',
        createdAt: now.toISOString(),
        activatedAt: now.toISOString(),
        deactivatedAt: null,
        compromisedAt: null,
        destroyedAt: null,
        uses: 0,
        fingerprint: fingerprint(key.algorithm, generated.secret),
        publicKey: generated.publicKeyPem,
        material,
        kekVersion,
        trigger,
      };
      await tx.insertVersion(version);
      return version;
    } finally {
      zero(generated.secret);
    }
  }

  async #inTransaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    try {
      return await this.#store.transaction(fn);
    } catch (error) {
      if (error instanceof StoreConflictError) throw new KeywardError('conflict', error.message);
      throw error;
    }
  }
}
