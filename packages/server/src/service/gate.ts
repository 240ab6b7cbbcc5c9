import { KeywardError } from '@keyward/wire';
import type { AuditLog, VersionUse } from '../audit/audit-log.js';
import type { Action } from '../policy/actions.js';
import type { AuthorizationRequest, Authorizer } from '../policy/authorizer.js';
import type { AuditRecord, KeyRecord } from '../store/records.js';
import type { StoreOps } from '../store/store.js';
import type { ApprovedExecution } from './approvals.js';
import type { Authenticator } from './authenticator.js';
import type { Clock } from './clock.js';
import type { CallContext, Principal } from './context.js';
import type { RateLimiter } from './rate-limiter.js';
import type { SecondFactor } from './second-factor.js';

type Detail = string | number | boolean | null;

/** What an operation body may do: authorize against its resource, describe itself for the audit record. */
export class Scope {
  readonly principal: Principal;
  readonly now: Date;
  /** Set by the body once it knows them. */
  key: string | null = null;
  /** The key's record once loaded; metrics label operations by its class and algorithm, never by name. */
  keyRecord: Pick<KeyRecord, 'class' | 'algorithm'> | null = null;
  keyVersion: number | null = null;
  use: VersionUse | null = null;
  /** Set when this call runs an operation its quorum approved (see service/approvals.ts). */
  readonly approval: ApprovedExecution | null;
  readonly details: Record<string, Detail> = {};
  /** Values the record holds only as HMACs under the audit salt (see AuditRecord.sensitive). */
  readonly sensitive: Record<string, Uint8Array> = {};
  #durable: Promise<void> | null = null;
  readonly #authorizer: Authorizer;
  readonly #action: Action;
  readonly #audit: AuditLog;
  readonly #build: (scope: Scope) => AuditRecord;

  constructor(
    principal: Principal,
    now: Date,
    action: Action,
    authorizer: Authorizer,
    audit: AuditLog,
    build: (s: Scope) => AuditRecord,
    approval: ApprovedExecution | null = null,
  ) {
    this.principal = principal;
    this.approval = approval;
    if (approval !== null) {
      this.details.approval = approval.approvalId;
      this.details.approvedBy = approval.approvers.join(',');
    }
    this.now = now;
    this.#action = action;
    this.#authorizer = authorizer;
    this.#audit = audit;
    this.#build = build;
  }

  /** Throws forbidden unless the authorizer allows this action on `key` (or, without a key, in `environment`). */
  authorize(key?: AuthorizationRequest['key'], environment?: AuthorizationRequest['environment']): void {
    const request: AuthorizationRequest = { principal: this.principal, action: this.#action, now: this.now };
    if (key !== undefined) request.key = key;
    if (environment !== undefined) request.environment = environment;
    const decision = this.#authorizer.authorize(request);
    if (!decision.allowed) {
      this.details.reason = decision.reason;
      throw new KeywardError('forbidden', `'${this.principal.id}' is not allowed to ${this.#action}`);
    }
  }

  /** Whether the authorizer would allow `action` (on `key`), without refusing. */
  may(action: Action, key?: AuthorizationRequest['key']): boolean {
    const request: AuthorizationRequest = { principal: this.principal, action, now: this.now };
    if (key !== undefined) request.key = key;
    return this.#authorizer.authorize(request).allowed;
  }

  /** Writes this request's success record inside the state change's own transaction. */
  async recordIn(tx: StoreOps): Promise<void> {
    this.#durable = (await this.#audit.recordIn(tx, this.#build(this))).durable;
  }

  /** Once {@link recordIn} ran: resolves when its record is durable (after the transaction commits). */
  get durable(): Promise<void> | null {
    return this.#durable;
  }
}

export interface GateOptions {
  /** Runs while sealed (health, init, unseal). */
  allowSealed?: boolean;
  /** Needs no credential (init, unseal); the record names no actor. */
  anonymous?: boolean;
}

const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  kind: 'user',
  roles: [],
  environments: [],
  teams: [],
  createdAt: '1970-01-01T00:00:00.000Z',
  disabled: false,
  offboardedAt: null,
  tokenId: '',
  via: 'token',
  secondFactor: false,
});

/** Told once of every call's end (metrics): the scope when one was built, the error code when it failed. Must not throw. */
export type GateObserver = (action: Action, scope: Scope | null, errorCode: string | null) => void;

/** Errors whose audit record the gate has written, so a front end does not record them twice. */
const audited = new WeakSet<object>();

/**
 * The one door of every operation: authenticate → authorize → act → record.
 * Every call, allowed or refused, leaves exactly one audit record; a call
 * whose record cannot be written fails (fail closed).
 */
export class Gate {
  readonly #authenticator: Authenticator;
  readonly #authorizer: Authorizer;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #isSealed: () => boolean;
  readonly #authFailures: RateLimiter;
  readonly #perPrincipal: RateLimiter | null;
  readonly #secondFactor: SecondFactor | null;
  readonly #observe: GateObserver;

  constructor(deps: {
    authenticator: Authenticator;
    authorizer: Authorizer;
    audit: AuditLog;
    clock: Clock;
    isSealed: () => boolean;
    /** Failed authentications allowed per source address (brute-force brake). */
    authFailures: RateLimiter;
    /** Requests allowed per principal, when configured. */
    perPrincipal: RateLimiter | null;
    /** Second factors for admin-level actions (policy `mfa:`); none asked when absent. */
    secondFactor?: SecondFactor | null;
    observe?: GateObserver;
  }) {
    this.#authenticator = deps.authenticator;
    this.#authorizer = deps.authorizer;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#isSealed = deps.isSealed;
    this.#authFailures = deps.authFailures;
    this.#perPrincipal = deps.perPrincipal;
    this.#secondFactor = deps.secondFactor ?? null;
    this.#observe = deps.observe ?? (() => {});
  }

  async run<T>(ctx: CallContext, action: Action, body: (scope: Scope) => Promise<T>, options: GateOptions = {}): Promise<T> {
    const now = this.#clock.now();
    let principal: Principal | null = null;
    let scope: Scope | null = null;
    /** Details of a refusal before the scope exists (a missing second factor). */
    const early: Record<string, Detail> = {};
    const build = (s: Scope | null, outcome: AuditRecord['outcome'], errorCode: string | null): AuditRecord => ({
      time: now.toISOString(),
      actor: principal === null || principal === ANONYMOUS ? null : principal.id,
      action,
      namespace: s?.key !== null && s?.key !== undefined ? ctx.namespace : null,
      key: s?.key ?? null,
      keyVersion: s?.keyVersion ?? null,
      outcome,
      errorCode,
      requestId: ctx.requestId,
      source: ctx.source,
      details: s?.details ?? early,
      ...(s !== null && s !== undefined && Object.keys(s.sensitive).length > 0 ? { sensitive: s.sensitive } : {}),
    });
    try {
      if (!options.allowSealed && this.#isSealed()) throw new KeywardError('sealed', 'Keyward is sealed');
      this.#audit.assertWritable();
      // A client certificate took part (docs/operations.md, "Mutual TLS"); the certificate itself is never recorded.
      if (!options.anonymous && ctx.approved === undefined && ctx.clientCertificate) early.via = 'mtls';
      principal = options.anonymous
        ? ANONYMOUS
        : ctx.approved !== undefined
          ? await this.#authenticator.requester(ctx.approved)
          : await this.#authenticate(ctx);
      if (!options.anonymous && ctx.approved === undefined) await this.#checkSecondFactor(ctx, principal, action, now, early);
      if (this.#perPrincipal !== null && !options.anonymous && !this.#perPrincipal.take(principal.id)) {
        throw new KeywardError('rate_limited', `'${principal.id}' is over its request rate; retry later`);
      }
      scope = new Scope(principal, now, action, this.#authorizer, this.#audit, (s) => build(s, 'success', null), ctx.approved ?? null);
      if (early.via !== undefined) scope.details.via = early.via;
      const result = await body(scope);
      const durable = scope.durable;
      if (durable === null) await this.#audit.record(build(scope, 'success', null), scope.use);
      else await durable;
      this.#observe(action, scope, null);
      return result;
    } catch (error) {
      const code = error instanceof KeywardError ? error.code : 'internal';
      const outcome = code === 'unauthenticated' || code === 'forbidden' ? 'denied' : 'error';
      this.#observe(action, scope, code);
      await this.#audit.record(build(scope, outcome, code));
      if (typeof error === 'object' && error !== null) audited.add(error);
      throw error;
    }
  }

  /**
   * Records a request that a front end refused before it reached an
   * operation (malformed, oversized, no such route), unless the gate already
   * recorded it, so probing leaves a trace too.
   */
  async refused(
    request: { requestId: string; source: string; method: string; route: string },
    error: unknown,
    code: string,
  ): Promise<void> {
    if (typeof error === 'object' && error !== null && audited.has(error)) return;
    await this.#audit.record({
      time: this.#clock.now().toISOString(),
      actor: null,
      action: 'request.refused',
      namespace: null,
      key: null,
      keyVersion: null,
      outcome: 'error',
      errorCode: code,
      requestId: request.requestId,
      source: request.source,
      details: { method: request.method, route: request.route },
    });
  }

  /** Admin-level actions need a second factor (see SecondFactor); a bad or missing one counts as a failed authentication. */
  async #checkSecondFactor(
    ctx: CallContext,
    principal: Principal,
    action: Action,
    now: Date,
    details: Record<string, Detail>,
  ): Promise<void> {
    if (this.#secondFactor === null) return;
    try {
      await this.#secondFactor.check(principal, action, ctx.otp ?? null, now, details);
    } catch (error) {
      if (error instanceof KeywardError && error.code === 'unauthenticated') this.#authFailures.take(ctx.source);
      throw error;
    }
  }

  /** Authenticates, refusing a source that has failed too often lately (credential guessing). */
  async #authenticate(ctx: CallContext): Promise<Principal> {
    if (!this.#authFailures.allows(ctx.source)) {
      throw new KeywardError('rate_limited', 'too many failed authentications from this address; retry later');
    }
    try {
      return await this.#authenticator.authenticate(ctx.credential, ctx.clientCertificate ?? null);
    } catch (error) {
      this.#authFailures.take(ctx.source);
      throw error;
    }
  }
}
