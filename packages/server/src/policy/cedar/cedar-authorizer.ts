import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Principal } from '../../service/context.js';
import type { GrantRecord, KeyRecord } from '../../store/records.js';
import type { Action } from '../actions.js';
import type { AuthorizationRequest, Authorizer, Decision } from '../authorizer.js';
import { ENVIRONMENT_POLICY_ID } from './builtin-policies.js';
import { builtinPolicies, type CedarPolicies } from './cedar-policies.js';
import { CEDAR_NAMESPACE, CEDAR_SCHEMA } from './cedar-schema.js';

/** Where the policies in force come from; read on every decision, so a reload applies to the next request. */
export interface CedarPolicySource {
  current(): CedarPolicies;
}

/** A decision with everything `keyward policy explain` shows. */
export interface Explanation extends Decision {
  /** The policies that decided: the permits of an allow, the forbids of a denial. */
  policies: readonly string[];
  /** Policies skipped because evaluating them failed (Cedar ignores a policy that errors), with the error. */
  errors: readonly string[];
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const HOUR_MS = 3_600_000;
const SCHEMA_NAME = 'keyward';
const SERVICE = { type: `${CEDAR_NAMESPACE}::Service`, id: 'keyward' } as const;

let schemaPreparsed = false;
let instances = 0;

/**
 * The JSON of the attributes of a principal or key record, once per object:
 * the authenticator shares one frozen principal per token and the key
 * directory one record per cached key, so a repeated request builds no new
 * string. Records are never changed in place (a change makes a new one).
 */
const attributeJson = new WeakMap<object, string>();

function memoJson(owner: object, attrs: () => unknown): string {
  let json = attributeJson.get(owner);
  if (json === undefined) {
    json = JSON.stringify(attrs());
    attributeJson.set(owner, json);
  }
  return json;
}

function principalAttributes(principal: AuthorizationRequest['principal']) {
  return { id: principal.id, kind: principal.kind, roles: principal.roles, environments: principal.environments, teams: principal.teams };
}

function keyAttributes(r: NonNullable<AuthorizationRequest['key']>['record']) {
  return { name: r.name, owner: r.owner, class: r.class, environment: r.environment, algorithm: r.algorithm, state: r.state };
}

/**
 * The context of `request`'s decision, and the string that identifies
 * everything the decision depends on (the cache key): the action, the
 * principal's attributes, the key's attributes and tags, and the context.
 */
function decisionInputs(request: AuthorizationRequest, now: Date) {
  const { principal, action, key } = request;
  const operations = new Set<string>();
  let grantHolder = false;
  if (key !== undefined) {
    for (const grant of key.grants) {
      if (grant.principal !== principal.id && !principal.teams.includes(grant.principal)) continue;
      grantHolder = true;
      for (const op of grant.operations) operations.add(op);
    }
  }
  const environment = key?.record.environment ?? request.environment;
  const context: Record<string, cedar.CedarValueJson> = {
    operations: [...operations].sort(),
    grantHolder,
    hour: now.getUTCHours(),
    weekday: WEEKDAYS[now.getUTCDay()] as string,
  };
  if (environment !== undefined) context.environment = environment;
  const principalPart = memoJson(principal, () => principalAttributes(principal));
  const keyPart = key === undefined ? 'null' : memoJson(key.record, () => [keyAttributes(key.record), key.record.tags]);
  const cacheKey = `${action}\u0000${principalPart}\u0000${keyPart}\u0000${JSON.stringify(context)}`;
  return { cacheKey, context };
}

/**
 * The decisions of one principal on one key record, for the hour they were
 * made in, under the policies and with the grants they were made with.
 */
interface Recent {
  policies: CedarPolicies;
  grants: readonly GrantRecord[];
  /** Hours since the epoch: a UTC hour boundary is a multiple of an hour, so this fixes the context's hour and weekday. */
  hour: number;
  decisions: Map<Action, Decision>;
}

/** The Cedar request for `request` (built only when the cache has no decision for it). */
function cedarRequest(request: AuthorizationRequest, context: Record<string, cedar.CedarValueJson>) {
  const { principal, action, key } = request;
  const principalUid = { type: `${CEDAR_NAMESPACE}::Principal`, id: principal.id };
  const entities: cedar.EntityJson[] = [{ uid: principalUid, attrs: principalAttributes(principal), parents: [] }];
  let resource: cedar.TypeAndId = SERVICE;
  if (key !== undefined) {
    const r = key.record;
    resource = { type: `${CEDAR_NAMESPACE}::Key`, id: r.name };
    entities.push({ uid: resource, attrs: keyAttributes(r), parents: [], tags: r.tags });
  } else {
    entities.push({ uid: SERVICE, attrs: {}, parents: [] });
  }
  return {
    principal: principalUid,
    action: { type: `${CEDAR_NAMESPACE}::Action`, id: action },
    resource,
    context,
    entities,
  };
}

/**
 * Decides with Cedar: Keyward's shipped policies (its roles, grants and
 * environments: builtin-policies.ts) plus the operator's own (the policy
 * directory). Decisions are cached: the cache key is everything the decision
 * depends on (the principal's attributes, the action, the key's attributes
 * and tags, the granted operations and the context, time to the hour), so no
 * change to an input can serve a stale decision; the whole cache is dropped
 * when the policies change.
 *
 * Fails closed: a request Cedar cannot evaluate is denied with the reason.
 *
 * @example
 * const authorizer = new CedarAuthorizer({ policies: directory });
 * authorizer.authorize({ principal, action: 'crypto.decrypt', key: { record, grants } }).allowed;
 */
export class CedarAuthorizer implements Authorizer {
  readonly #source: CedarPolicySource;
  readonly #clock: () => Date;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, Decision>();
  /**
   * The hot path's shortcut past the cache key: decisions by the identity of
   * the key record and the principal (never changed in place, as for
   * `memoJson`), checked against the grants array, the hour and the policies
   * they were made with. Weak, so it holds nothing its owners do not.
   */
  readonly #recent = new WeakMap<KeyRecord, WeakMap<Principal, Recent>>();
  readonly #slots: readonly [string, string];
  #slot = 0;
  #loaded: CedarPolicies | null = null;
  #effects = new Map<string, 'permit' | 'forbid'>();

  constructor(options: { policies?: CedarPolicySource; now?: () => Date; cacheSize?: number } = {}) {
    this.#source = options.policies ?? { current: builtinPolicies };
    this.#clock = options.now ?? (() => new Date());
    this.#cacheSize = options.cacheSize ?? 10_000;
    instances += 1;
    this.#slots = [`keyward-${instances}-a`, `keyward-${instances}-b`];
    if (!schemaPreparsed) {
      const answer = cedar.preparseSchema(SCHEMA_NAME, CEDAR_SCHEMA);
      if (answer.type === 'failure') throw new Error(`the Cedar schema does not parse: ${answer.errors.map((e) => e.message).join('; ')}`);
      schemaPreparsed = true;
    }
    this.#load();
  }

  /** How many decisions are cached (for tests and the performance notes). */
  get cached(): number {
    return this.#cache.size;
  }

  authorize(request: AuthorizationRequest): Decision {
    this.#load();
    const now = request.now ?? this.#clock();
    const recent = this.#recentFor(request, now);
    const known = recent?.decisions.get(request.action);
    if (known !== undefined) return known;
    const decision = this.#decide(request, now);
    recent?.decisions.set(request.action, decision);
    return decision;
  }

  /** The cache, then Cedar. */
  #decide(request: AuthorizationRequest, now: Date): Decision {
    const { cacheKey, context } = decisionInputs(request, now);
    const hit = this.#cache.get(cacheKey);
    if (hit !== undefined) {
      // Least recently used goes first: re-inserting moves a hit to the end.
      this.#cache.delete(cacheKey);
      this.#cache.set(cacheKey, hit);
      return hit;
    }
    const { errors: _errors, ...decision } = this.#evaluate(request, cedarRequest(request, context));
    const frozen = Object.freeze(decision);
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(cacheKey, frozen);
    return frozen;
  }

  /** The recent decisions of the request's principal on its key, emptied when they no longer apply; null for a request without a key. */
  #recentFor(request: AuthorizationRequest, now: Date): Recent | null {
    const { key, principal } = request;
    const policies = this.#loaded;
    if (key === undefined || policies === null) return null;
    const hour = Math.floor(now.getTime() / HOUR_MS);
    let byPrincipal = this.#recent.get(key.record);
    if (byPrincipal === undefined) {
      byPrincipal = new WeakMap();
      this.#recent.set(key.record, byPrincipal);
    }
    let recent = byPrincipal.get(principal);
    if (recent === undefined || recent.policies !== policies || recent.grants !== key.grants || recent.hour !== hour) {
      recent = { policies, grants: key.grants, hour, decisions: new Map() };
      byPrincipal.set(principal, recent);
    }
    return recent;
  }

  /** The decision without the cache, with the policies that decided and the errors of those that failed. */
  explain(request: AuthorizationRequest): Explanation {
    this.#load();
    return this.#evaluate(request, cedarRequest(request, decisionInputs(request, request.now ?? this.#clock()).context));
  }

  /** Preparses the policies in force when they changed, into the slot not in use, and drops the cache. */
  #load(): void {
    const policies = this.#source.current();
    if (policies === this.#loaded) return;
    const slot = 1 - this.#slot;
    const staticPolicies = Object.fromEntries([...policies.policies].map(([id, p]) => [id, p.text]));
    let answer: cedar.CheckParseAnswer;
    try {
      answer = cedar.preparsePolicySet(this.#slots[slot] as string, { staticPolicies });
    } catch (error) {
      answer = { type: 'failure', errors: [{ message: (error as Error).message } as cedar.DetailedError] };
    }
    // Compiled policies always parse; should they not, the previous set stays in force.
    if (answer.type === 'failure') return;
    this.#slot = slot;
    this.#loaded = policies;
    this.#effects = new Map([...policies.policies].map(([id, p]) => [id, p.effect]));
    this.#cache.clear();
  }

  #evaluate(request: AuthorizationRequest, call: ReturnType<typeof cedarRequest>): Explanation {
    let answer: cedar.AuthorizationAnswer;
    try {
      answer = cedar.statefulIsAuthorized({
        principal: call.principal,
        action: call.action,
        resource: call.resource,
        context: call.context,
        entities: call.entities,
        preparsedPolicySetId: this.#slots[this.#slot] as string,
        preparsedSchemaName: SCHEMA_NAME,
        validateRequest: true,
      });
    } catch (error) {
      answer = { type: 'failure', errors: [{ message: (error as Error).message } as cedar.DetailedError], warnings: [] };
    }
    if (answer.type === 'failure') {
      const errors = answer.errors.map((e) => e.message);
      return { allowed: false, reason: `the policies could not decide: ${errors.join('; ')}`, policies: [], errors };
    }
    const { decision, diagnostics } = answer.response;
    const policies = [...diagnostics.reason].sort();
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
    const suffix = errors.length === 0 ? '' : ` (policies that failed and were skipped: ${errors.join('; ')})`;
    if (decision === 'allow') return { allowed: true, reason: `permit ${policies.join(', ')}${suffix}`, policies, errors };
    let reason: string;
    if (policies.length === 0) reason = `no policy permits '${request.principal.id}' to ${request.action}`;
    else if (policies.length === 1 && policies[0] === ENVIRONMENT_POLICY_ID) {
      // The audit record's reason for an environment refusal, as documented (docs/governance.md, "Environments").
      reason = `'${request.principal.id}' is not scoped to environment ${String(call.context.environment)}`;
    } else reason = `forbid ${policies.filter((id) => this.#effects.get(id) === 'forbid').join(', ')}`;
    return { allowed: false, reason: `${reason}${suffix}`, policies, errors };
  }
}
