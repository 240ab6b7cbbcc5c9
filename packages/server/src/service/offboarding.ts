import { KeywardError, type OffboardRequest, type OffboardResult } from '@keyward/wire';
import type { PolicySource } from '../policy/policy-file.js';
import type { KeyEvent, KeyRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from './authenticator.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { event, type Lifecycle, writeOutcome } from './lifecycle.js';
import type { CommittedListener } from './system-actions.js';
import type { UseLimiter } from './use-limiter.js';

/** Keys in these states can still be used, so an offboarded principal's reach over them is rotated away. */
const ROTATABLE = new Set<KeyRecord['state']>(['enabled', 'disabled']);

/**
 * Offboarding a principal (docs/governance.md, "Offboarding"): in one
 * transaction it disables the principal for good and revokes every token it
 * holds, removes the grants naming it, hands the keys it owns to `reassignTo`
 * with a review due at once, and rotates the exportable keys it could reach
 * (owned or granted) whose class says `rotateOnOffboarding`. Nothing is left
 * half done: a failure rolls the whole change back.
 */
export class OffboardingService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #policy: PolicySource;
  readonly #lifecycle: Lifecycle;
  readonly #authenticator: Authenticator;
  readonly #directory: KeyDirectory;
  readonly #keyring: Keyring;
  readonly #uses: UseLimiter;
  readonly #committed: CommittedListener;

  constructor(deps: {
    gate: Gate;
    store: Store;
    policy: PolicySource;
    lifecycle: Lifecycle;
    authenticator: Authenticator;
    directory: KeyDirectory;
    keyring: Keyring;
    uses: UseLimiter;
    onCommitted?: CommittedListener;
  }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#policy = deps.policy;
    this.#lifecycle = deps.lifecycle;
    this.#authenticator = deps.authenticator;
    this.#directory = deps.directory;
    this.#keyring = deps.keyring;
    this.#uses = deps.uses;
    this.#committed = deps.onCommitted ?? (() => {});
  }

  offboard(ctx: CallContext, id: string, req: OffboardRequest): Promise<OffboardResult> {
    return this.#gate.run(ctx, 'principal.offboard', async (scope) => {
      scope.authorize();
      scope.details.principal = id;
      scope.details.reassignTo = req.reassignTo;
      if (req.reason !== undefined) scope.details.reason = req.reason;
      if (id === scope.principal.id) throw new KeywardError('invalid_request', 'id: a principal cannot offboard itself');
      if (req.reassignTo === id) throw new KeywardError('invalid_request', 'reassignTo: must be another principal or team');
      const now = scope.now.toISOString();
      const policy = this.#policy.current();
      const done = await this.#lifecycle.transaction(this.#store, async (tx) => {
        const principal = await tx.getPrincipal(id);
        if (principal === null) throw new KeywardError('not_found', `principal '${id}' does not exist`);
        if (principal.offboardedAt !== null) {
          throw new KeywardError('invalid_state', `principal '${id}' was already offboarded at ${principal.offboardedAt}`);
        }
        const heir = await tx.getPrincipal(req.reassignTo);
        if (heir === null) throw new KeywardError('invalid_request', `reassignTo: principal '${req.reassignTo}' does not exist`);
        if (heir.disabled) throw new KeywardError('invalid_request', `reassignTo: principal '${req.reassignTo}' is disabled`);

        await tx.updatePrincipalStatus(id, { disabled: true, offboardedAt: now });
        const tokens = await tx.revokePrincipalTokens(id, now);
        const granted = new Set(await tx.keysGrantedTo(id));
        const grantsRemoved = await tx.deleteGrantsOf(id);
        await tx.announce({ kind: 'principal', id });
        for (const tokenId of tokens) await tx.announce({ kind: 'token', id: tokenId });

        const events: KeyEvent[] = [];
        const committed: KeyEvent[] = [];
        const touched: KeyRecord[] = [];
        const reassigned: string[] = [];
        const rotated: string[] = [];
        const reached = new Map<string, KeyRecord>();
        for (const key of await tx.listKeysOwnedBy(id)) {
          const locked = (await tx.lockKeyById(key.id)) ?? key;
          const next: KeyRecord = { ...locked, owner: req.reassignTo, reviewDueAt: now, updatedAt: now };
          await tx.updateKey(next);
          events.push(event('key.updated', next, null, scope.now, { fields: 'owner', offboarded: id }));
          await tx.announce({ kind: 'key', namespace: next.namespace, name: next.name, id: next.id });
          reassigned.push(qualified(next));
          reached.set(next.id, next);
          touched.push(next);
        }
        for (const keyId of granted) {
          if (reached.has(keyId)) continue;
          const key = await tx.lockKeyById(keyId);
          if (key !== null) {
            reached.set(keyId, key);
            touched.push(key);
          }
        }
        for (const key of reached.values()) {
          if (!key.exportable || !ROTATABLE.has(key.state) || !policy.classes[key.class].rotateOnOffboarding) continue;
          const outcome = await this.#lifecycle.rotate(tx, key, await tx.getVersions(key.id), 'event', scope.now, null);
          await writeOutcome(tx, outcome, scope.now); // appends the rotation's own events
          committed.push(...outcome.events);
          rotated.push(qualified(key));
        }
        scope.details.tokensRevoked = tokens.length;
        scope.details.grantsRemoved = grantsRemoved;
        scope.details.keysReassigned = reassigned.join(',');
        scope.details.keysRotated = rotated.join(',');
        if (events.length > 0) await tx.appendEvents(events);
        await scope.recordIn(tx);
        return { tokens, grantsRemoved, reassigned, rotated: rotated.sort(), events: [...events, ...committed], touched };
      });
      this.#forget(id, done.tokens, done.touched);
      this.#committed(done.events);
      return {
        principal: id,
        offboardedAt: now,
        reassignedTo: req.reassignTo,
        tokensRevoked: done.tokens.length,
        grantsRemoved: done.grantsRemoved,
        keysReassigned: done.reassigned,
        keysRotated: done.rotated,
      };
    });
  }

  /** Drops what this node cached about the principal, its tokens and the keys that changed. */
  #forget(id: string, tokens: readonly string[], keys: readonly KeyRecord[]): void {
    this.#authenticator.forgetPrincipal(id);
    for (const tokenId of tokens) this.#authenticator.forgetToken(tokenId);
    for (const key of keys) {
      this.#directory.forget(key.namespace, key.name);
      this.#keyring.forgetKey(key.id);
      this.#uses.forgetKey(key.id);
    }
  }
}

/** A key named across namespaces: `name` in the default namespace, `namespace/name` elsewhere. */
const qualified = (key: KeyRecord): string => (key.namespace === 'default' ? key.name : `${key.namespace}/${key.name}`);
