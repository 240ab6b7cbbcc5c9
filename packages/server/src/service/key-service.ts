import { randomUUID } from 'node:crypto';
import { getAlgorithm } from '@keyward/crypto';
import {
  type CreateKeyRequest,
  ENVIRONMENTS,
  type KeyList,
  type KeyListQuery,
  type KeyView,
  KeywardError,
  type PatchKeyRequest,
  type PendingApproval,
} from '@keyward/wire';
import { DEFAULT_CLASS, DEFAULT_ENVIRONMENT, MAX_DELETION_WINDOW_DAYS } from '../keys/class-defaults.js';
import { parseDuration } from '../keys/duration.js';
import { nextCheckAt } from '../keys/schedule-rules.js';
import { assertDeletionWindow, assertMeetsClass, assertPatchMeetsClass } from '../policy/class-standards.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { KeyFilter, KeyRecord, VersionRecord } from '../store/records.js';
import { type Store, StoreConflictError, type StoreOps } from '../store/store.js';
import { type Held, holdForApproval, isDowngrade, isPending } from './approvals.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';
import type { HsmKeys } from './hsm-keys.js';
import { findVersion, type KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { event, type Lifecycle, nextRotation, type Outcome, writeOutcome } from './lifecycle.js';
import type { CommittedListener } from './system-actions.js';
import type { UseLimiter } from './use-limiter.js';
import { keyView } from './views.js';

export interface ListKeysInput extends Omit<KeyListQuery, 'limit' | 'cursor'> {
  limit: number;
  cursor: string | null;
}

/** The API's upper bound on a deletion window: bad input, not a class rule (the class sets the minimum). */
function checkMaxDeletionWindow(days: number, field = 'deletionWindowDays'): void {
  if (days > MAX_DELETION_WINDOW_DAYS) throw new KeywardError('invalid_request', `${field}: must be at most ${MAX_DELETION_WINDOW_DAYS}`);
}

/** Appended to a rotation refused because the key no longer meets its class (e.g. after a policy change). */
const PATCH_FIRST =
  '; the key no longer meets its class standard: patch it into compliance first (its settings, or its class), then rotate';

/** A version must rotate before its originator-usage period ends, and prepublication must fit in a rotation period. */
function checkPeriods(key: KeyRecord): void {
  const rotation = key.rotationPeriod === null ? null : parseDuration('rotationPeriod', key.rotationPeriod);
  if (key.originatorPeriod !== null) {
    const originator = parseDuration('originatorPeriod', key.originatorPeriod);
    if (rotation !== null && rotation > originator) {
      throw new KeywardError(
        'invalid_request',
        'rotationPeriod: must not be longer than originatorPeriod, or versions would stop encrypting before they rotate',
      );
    }
  }
  if (key.prepublishPeriod !== null) {
    const prepublish = parseDuration('prepublishPeriod', key.prepublishPeriod);
    if (rotation === null) throw new KeywardError('invalid_request', 'prepublishPeriod: needs a rotationPeriod');
    if (prepublish >= rotation) throw new KeywardError('invalid_request', 'prepublishPeriod: must be shorter than rotationPeriod');
  }
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
  readonly #hsm: HsmKeys;
  readonly #directory: KeyDirectory;
  readonly #lifecycle: Lifecycle;
  readonly #uses: UseLimiter;
  readonly #committed: CommittedListener;
  readonly #policy: PolicySource;

  constructor(deps: {
    gate: Gate;
    store: Store;
    keyring: Keyring;
    /** Which protections this server can give (`hsm` only on the PKCS#11 seal). */
    hsm: HsmKeys;
    directory: KeyDirectory;
    lifecycle: Lifecycle;
    uses: UseLimiter;
    /** The policy in force; its class standards are read on every call, so a reloaded file applies to the next request. */
    policy: PolicySource;
    /** Told of the events of every committed change (metrics count rotations from them). */
    onCommitted?: CommittedListener;
  }) {
    this.#policy = deps.policy;
    this.#uses = deps.uses;
    this.#committed = deps.onCommitted ?? (() => {});
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#hsm = deps.hsm;
    this.#directory = deps.directory;
    this.#lifecycle = deps.lifecycle;
  }

  create(ctx: CallContext, req: CreateKeyRequest): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.create', async (scope) => {
      scope.key = req.name;
      // In the environment the key will be in: a principal scoped to dev cannot create a prod key.
      const environment = req.environment ?? DEFAULT_ENVIRONMENT;
      scope.authorize(undefined, environment);
      const policy = this.#policy.current();
      const keyClass = req.class ?? DEFAULT_CLASS;
      const defaults = policy.classes[keyClass];
      const rotationPeriod = req.rotationPeriod ?? defaults.rotationPeriod;
      if (rotationPeriod !== null) parseDuration('rotationPeriod', rotationPeriod);
      const deletionWindowDays = req.deletionWindowDays ?? defaults.deletionWindowDays;
      checkMaxDeletionWindow(deletionWindowDays);
      const spec = getAlgorithm(req.algorithm);
      // A class that requires hsm makes it the default; asking for software there is then a class violation below.
      const protection = req.protection ?? (defaults.protection === 'hsm' ? 'hsm' : 'software');
      this.#hsm.assertCanProtect(
        { algorithm: req.algorithm, exportable: req.exportable ?? false, class: keyClass },
        protection,
        req.protection === undefined,
      );
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
        environment,
        description: req.description ?? '',
        tags: req.tags ?? {},
        rotationPeriod,
        maxUsesPerVersion: req.maxUsesPerVersion ?? defaults.maxUsesPerVersion,
        nextRotationAt: nextRotation(rotationPeriod, now),
        primaryVersion: 1,
        exportable: req.exportable ?? false,
        protection,
        deletionWindowDays,
        deletionDate: null,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        minDecryptionVersion: 1,
        prepublishPeriod: req.prepublishPeriod ?? null,
        originatorPeriod: req.originatorPeriod ?? null,
        nextCheckAt: null,
        lastReviewedAt: null,
        reviewDueAt: null,
      };
      // Version 1 is created active now.
      record.nextCheckAt = nextCheckAt(record, [{ state: 'active', activatedAt: now.toISOString(), activateAt: null }]);
      checkPeriods(record);
      // After the class defaults: the key as it would be stored must meet its class.
      assertMeetsClass(policy, record);
      scope.details.algorithm = req.algorithm;
      scope.details.protection = protection;
      scope.keyVersion = 1;
      const version = await this.#inTransaction(async (tx) => {
        await tx.insertKey(record);
        const v1 = await this.#lifecycle.newVersion(tx, record, 1, 'created', now, null);
        await tx.appendEvents([event('key.created', record, 1, now, { algorithm: record.algorithm })]);
        await tx.announce({ kind: 'key', namespace: record.namespace, name: record.name, id: record.id });
        await scope.recordIn(tx);
        return v1;
      });
      this.#directory.forget(record.namespace, record.name);
      return keyView(record, policy, [version]);
    });
  }

  list(ctx: CallContext, input: ListKeysInput): Promise<KeyList> {
    return this.#gate.run(ctx, 'key.list', async (scope) => {
      // Asking for one environment needs that environment; otherwise only the principal's are listed.
      scope.authorize(undefined, input.environment);
      const filter: KeyFilter = {};
      const scoped = scope.principal.environments;
      if (input.environment === undefined && ENVIRONMENTS.some((e) => !scoped.includes(e))) filter.environments = [...scoped];
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
      const policy = this.#policy.current();
      return { keys: page.map((k) => keyView(k, policy)), nextCursor: rows.length > input.limit && last ? encodeCursor(last.name) : null };
    });
  }

  get(ctx: CallContext, name: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.read', async (scope) => {
      scope.key = name;
      const loaded = await this.#directory.load(ctx.namespace, name);
      scope.authorize(loaded);
      // Fresh versions: use counts move with every operation and are not cached.
      return keyView(loaded.record, this.#policy.current(), await this.#store.getVersions(loaded.record.id));
    });
  }

  patch(ctx: CallContext, name: string, req: PatchKeyRequest): Promise<KeyView | PendingApproval> {
    // Moving a key to another owner, class or environment is reserved to key administrators;
    // an owner may edit the rest of its metadata.
    const reclassifies = req.owner !== undefined || req.class !== undefined || req.environment !== undefined;
    return this.#gate.run(ctx, reclassifies ? 'key.reclassify' : 'key.update', (scope) =>
      this.#mutateOrHold(
        ctx,
        scope,
        name,
        async (key, versions) => {
          const next: KeyRecord = { ...key };
          if (req.owner !== undefined) next.owner = req.owner;
          if (req.class !== undefined) next.class = req.class;
          if (req.environment !== undefined) {
            // Moving a key is managing it in its new environment too.
            scope.authorize(undefined, req.environment);
            next.environment = req.environment;
          }
          if (req.description !== undefined) next.description = req.description;
          if (req.tags !== undefined) next.tags = req.tags;
          if (req.maxUsesPerVersion !== undefined) next.maxUsesPerVersion = req.maxUsesPerVersion;
          if (req.deletionWindowDays !== undefined) next.deletionWindowDays = req.deletionWindowDays;
          if (req.prepublishPeriod !== undefined) next.prepublishPeriod = req.prepublishPeriod;
          if (req.originatorPeriod !== undefined) next.originatorPeriod = req.originatorPeriod;
          if (req.rotationPeriod !== undefined) {
            next.rotationPeriod = req.rotationPeriod;
            const primary = versions.find((v) => v.version === key.primaryVersion);
            next.nextRotationAt = nextRotation(req.rotationPeriod, new Date(primary?.activatedAt ?? key.createdAt));
          }
          if (req.minDecryptionVersion !== undefined) {
            if (req.minDecryptionVersion > key.primaryVersion) {
              throw new KeywardError(
                'invalid_request',
                `minDecryptionVersion: must be at most the primary version (${key.primaryVersion})`,
              );
            }
            next.minDecryptionVersion = req.minDecryptionVersion;
          }
          checkPeriods(next);
          if (req.deletionWindowDays !== undefined) checkMaxDeletionWindow(next.deletionWindowDays);
          // The key as it would be after the patch, in the class it would be in: reclassifying
          // into a stricter class it does not meet is refused, and so is setting a field to a
          // value its class does not allow.
          assertPatchMeetsClass(this.#policy.current(), next, new Set(Object.keys(req)));
          const fields = Object.keys(req).sort().join(',');
          scope.details.fields = fields;
          return { key: next, changed: [], created: [], events: [event('key.updated', next, null, scope.now, { fields })] };
        },
        (key) =>
          // Moving a key to a lower class loosens its standard: the class it leaves decides the quorum.
          req.class !== undefined && isDowngrade(key.class, req.class)
            ? { rule: 'downgrade', operation: { type: 'downgrade', from: key.class, to: req.class, patch: { ...req } } }
            : null,
      ),
    );
  }

  /**
   * Records a review of the key by its owner or a key administrator: the
   * next one falls due a review interval from now, and a review asked for by
   * an event (the owner was offboarded) is done.
   */
  review(ctx: CallContext, name: string, note: string | null): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.review', (scope) =>
      this.#mutate(ctx, scope, name, async (key) => {
        if (key.state === 'destroyed') throw new KeywardError('invalid_state', `key '${name}' is destroyed`);
        if (note !== null) scope.details.note = note;
        const at = scope.now.toISOString();
        const next: KeyRecord = { ...key, lastReviewedAt: at, reviewDueAt: null };
        return { key: next, changed: [], created: [], events: [event('key.updated', next, null, scope.now, { fields: 'lastReviewedAt' })] };
      }),
    );
  }

  rotate(ctx: CallContext, name: string, reason: string | null, activationDate: string | null = null): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.rotate', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions, tx) => {
        const activateAt = activationDate === null ? null : new Date(activationDate);
        if (activateAt !== null && Number.isNaN(activateAt.getTime()))
          throw new KeywardError('invalid_request', 'activationDate: not a valid time');
        if (activateAt !== null && activateAt.getTime() <= scope.now.getTime()) {
          throw new KeywardError('invalid_request', 'activationDate: must be in the future');
        }
        this.#lifecycle.assertRotatable(key);
        // Only manual rotation is held back. Rotation by time (scheduler), by use (CryptoService)
        // and on compromise (compromiseVersion, the incident playbook) protect the key and never are.
        assertMeetsClass(this.#policy.current(), key, PATCH_FIRST);
        const outcome = await this.#lifecycle.rotate(tx, key, versions, 'manual', scope.now, activateAt);
        scope.keyVersion = outcome.created[0]?.version ?? null;
        scope.details.trigger = 'manual';
        if (activationDate !== null) scope.details.activationDate = activationDate;
        if (reason !== null) scope.details.reason = reason;
        return outcome;
      }),
    );
  }

  setEnabled(ctx: CallContext, name: string, enabled: boolean): Promise<KeyView | PendingApproval> {
    return this.#gate.run(ctx, enabled ? 'key.enable' : 'key.disable', (scope) =>
      this.#mutateOrHold(
        ctx,
        scope,
        name,
        async (key) => this.#lifecycle.setEnabled(key, enabled, scope.now),
        // Disabling a key that is already disabled changes nothing and is not held.
        (key) => (enabled || key.state !== 'enabled' ? null : { rule: 'disable', operation: { type: 'disable' } }),
      ),
    );
  }

  deactivateVersion(ctx: CallContext, name: string, n: number): Promise<KeyView> {
    return this.#gate.run(ctx, 'version.deactivate', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions) => {
        scope.keyVersion = n;
        return this.#lifecycle.deactivate(key, findVersion({ record: key, versions, grants: [] }, n), scope.now);
      }),
    );
  }

  /**
   * Declares a version compromised: from now on it only decrypts and
   * verifies, and only for principals allowed to recover data. If it was the
   * primary version the key rotates at once, in the same transaction. Never
   * held back by the class standards: it protects the key, and a key that
   * breaks its class needs the new version no less.
   */
  compromiseVersion(ctx: CallContext, name: string, n: number, reason: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'version.compromise', (scope) =>
      this.#mutate(ctx, scope, name, async (key, versions, tx) => {
        scope.keyVersion = n;
        scope.details.reason = reason;
        const version = findVersion({ record: key, versions, grants: [] }, n);
        const outcome = await this.#lifecycle.compromise(tx, key, versions, version, scope.now, reason);
        const rotatedTo = outcome.created[0]?.version;
        if (rotatedTo !== undefined) scope.details.rotatedTo = rotatedTo;
        return outcome;
      }),
    );
  }

  /** Erases one non-primary version's material for good (crypto-shredding). */
  destroyVersion(ctx: CallContext, name: string, n: number): Promise<KeyView | PendingApproval> {
    return this.#gate.run(ctx, 'version.destroy', (scope) =>
      this.#mutateOrHold(
        ctx,
        scope,
        name,
        async (key, versions) => {
          scope.keyVersion = n;
          return this.#lifecycle.destroyVersion(key, findVersion({ record: key, versions, grants: [] }, n), scope.now);
        },
        () => ({ rule: 'destroyVersion', operation: { type: 'destroyVersion', version: n } }),
      ),
    );
  }

  /** Schedules crypto-shredding after a waiting period of `days` (7–30, never below the class minimum). */
  scheduleDeletion(ctx: CallContext, name: string, days: number | null): Promise<KeyView | PendingApproval> {
    return this.#gate.run(ctx, 'key.schedule-deletion', (scope) =>
      this.#mutateOrHold(
        ctx,
        scope,
        name,
        async (key) => {
          const window = days ?? key.deletionWindowDays;
          // Without `days` the key's own window applies: name it, so the operator knows what to change.
          const field = days === null ? 'deletionWindowDays' : 'days';
          checkMaxDeletionWindow(window, field);
          assertDeletionWindow(this.#policy.current(), key.class, window, field);
          scope.details.days = window;
          return this.#lifecycle.scheduleDeletion(key, window, scope.now);
        },
        () => ({ rule: 'scheduleDeletion', operation: { type: 'scheduleDeletion', days } }),
      ),
    );
  }

  cancelDeletion(ctx: CallContext, name: string): Promise<KeyView> {
    return this.#gate.run(ctx, 'key.cancel-deletion', (scope) =>
      this.#mutate(ctx, scope, name, async (key) => this.#lifecycle.cancelDeletion(key, scope.now)),
    );
  }

  /**
   * Loads a key, authorizes, applies `change` and writes its outcome (key,
   * versions, events) with the audit record in one transaction.
   */
  async #mutate(
    ctx: CallContext,
    scope: Scope,
    name: string,
    change: (key: KeyRecord, versions: VersionRecord[], tx: StoreOps) => Promise<Outcome>,
  ): Promise<KeyView> {
    const result = await this.#mutateOrHold(ctx, scope, name, change, () => null);
    if (isPending(result)) throw new Error('an operation without a hold was held');
    return result;
  }

  /**
   * {@link #mutate} for a sensitive operation: once `change` has checked
   * that the operation is valid now, `hold` names it, and if the key's class
   * asks for a quorum the outcome is not written; a pending approval is, and
   * is answered instead (docs/governance.md, "Approvals").
   */
  async #mutateOrHold(
    ctx: CallContext,
    scope: Scope,
    name: string,
    change: (key: KeyRecord, versions: VersionRecord[], tx: StoreOps) => Promise<Outcome>,
    hold: (key: KeyRecord) => Held | null,
  ): Promise<KeyView | PendingApproval> {
    scope.key = name;
    scope.authorize(await this.#directory.load(ctx.namespace, name));
    const result = await this.#inTransaction(async (tx) => {
      // Re-read inside the transaction so concurrent changes are not lost.
      const current = await tx.lockKey(ctx.namespace, name);
      if (current === null) throw new KeywardError('not_found', `key '${name}' does not exist in namespace '${ctx.namespace}'`);
      const outcome = await change(current, await tx.getVersions(current.id), tx);
      const held = hold(current);
      if (held !== null) {
        const pending = await holdForApproval(tx, scope, this.#policy, current, held, null);
        if (pending !== null) {
          await scope.recordIn(tx);
          return pending;
        }
      }
      const key = await writeOutcome(tx, outcome, scope.now);
      await scope.recordIn(tx);
      return { key, versions: await tx.getVersions(current.id), events: outcome.events };
    });
    if (isPending(result)) return result;
    this.#committed(result.events);
    this.#directory.forget(ctx.namespace, name);
    this.#keyring.forgetKey(result.key.id);
    this.#uses.forgetKey(result.key.id);
    return keyView(result.key, this.#policy.current(), result.versions);
  }

  /** A transaction of the life cycle's ({@link Lifecycle.transaction}: `fn` may run twice for an hsm RSA version). */
  async #inTransaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    try {
      return await this.#lifecycle.transaction(this.#store, fn);
    } catch (error) {
      if (error instanceof StoreConflictError) throw new KeywardError('conflict', error.message);
      throw error;
    }
  }
}
