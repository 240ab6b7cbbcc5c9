import {
  type AttestationStatement,
  type ComplianceReport,
  ENVIRONMENTS,
  FINDING_KINDS,
  type FindingKind,
  type InventoryReport,
  KEY_CLASSES,
  KEY_STATES,
  type OwnerSummary,
  type ReportKey,
  type ReportQuery,
} from '@keyward/wire';
import { findingsOf, type PrincipalIndex } from '../policy/findings.js';
import type { PolicySource } from '../policy/policy-file.js';
import { nextReviewAt } from '../policy/review.js';
import type { IncidentRecord } from '../store/incident-records.js';
import type { KeyFilter, KeyRecord, PrincipalRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';

const PAGE = 1000;
/** Keys whose versions and grants are read at once. */
const BATCH = 25;
const DAY_MS = 24 * 60 * 60 * 1000;

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The inventory and compliance reports of a namespace (docs/governance.md,
 * "Reports"): every key in the caller's environments with its owner, class,
 * age, last use and findings. Read-only; findings are judged by
 * policy/findings.ts against the policy in force.
 */
export class InventoryService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #policy: PolicySource;

  constructor(deps: { gate: Gate; store: Store; policy: PolicySource }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#policy = deps.policy;
  }

  /** Every key in scope, by name, with its findings. */
  inventory(ctx: CallContext, query: ReportQuery): Promise<InventoryReport> {
    return this.#gate.run(ctx, 'report.read', async (scope) => {
      scope.details.report = 'inventory';
      const { keys, digest } = await this.#keys(ctx, scope, query);
      scope.details.keys = keys.length;
      return { generatedAt: scope.now.toISOString(), namespace: ctx.namespace, policyDigest: digest, keys };
    });
  }

  /** Only the keys with findings, the count of each kind, and one accountability line per owner. */
  compliance(ctx: CallContext, query: ReportQuery): Promise<ComplianceReport> {
    return this.#gate.run(ctx, 'report.read', async (scope) => {
      scope.details.report = 'compliance';
      const { keys, digest } = await this.#keys(ctx, scope, query);
      const counts = Object.fromEntries(FINDING_KINDS.map((kind) => [kind, 0])) as Record<FindingKind, number>;
      const owners = new Map<string, OwnerSummary>();
      for (const key of keys) {
        let line = owners.get(key.owner);
        if (line === undefined) {
          line = { owner: key.owner, keys: 0, keysWithFindings: 0, openFindings: 0, oldestFindingSince: null };
          owners.set(key.owner, line);
        }
        line.keys += 1;
        if (key.findings.length > 0) line.keysWithFindings += 1;
        line.openFindings += key.findings.length;
        for (const finding of key.findings) {
          counts[finding.kind] += 1;
          if (finding.since !== null && (line.oldestFindingSince === null || finding.since < line.oldestFindingSince)) {
            line.oldestFindingSince = finding.since;
          }
        }
      }
      const flagged = keys.filter((k) => k.findings.length > 0);
      scope.details.keys = keys.length;
      scope.details.findings = flagged.reduce((n, k) => n + k.findings.length, 0);
      return {
        generatedAt: scope.now.toISOString(),
        namespace: ctx.namespace,
        policyDigest: digest,
        keysExamined: keys.length,
        counts,
        keys: flagged,
        owners: [...owners.values()].sort((a, b) => byText(a.owner, b.owner)),
      };
    });
  }

  /**
   * Counts for an attestation whose request `scope` is already in the gate
   * (action `attestation.read`): keys by class and state, and findings by
   * kind, over the same keys the compliance report examines (the caller's
   * namespace and environments), judged against the policy in force.
   */
  async summary(
    ctx: CallContext,
    scope: Scope,
  ): Promise<AttestationStatement['keys'] & { compliance: AttestationStatement['compliance'] }> {
    const { keys, digest } = await this.#keys(ctx, scope, {});
    const byClassAndState = Object.fromEntries(
      KEY_CLASSES.map((c) => [c, Object.fromEntries(KEY_STATES.map((s) => [s, 0]))]),
    ) as AttestationStatement['keys']['byClassAndState'];
    const counts = Object.fromEntries(FINDING_KINDS.map((kind) => [kind, 0])) as Record<FindingKind, number>;
    for (const key of keys) {
      byClassAndState[key.class][key.state] += 1;
      for (const finding of key.findings) counts[finding.kind] += 1;
    }
    return { total: keys.length, byClassAndState, compliance: { policyDigest: digest, keysExamined: keys.length, counts } };
  }

  /** Authorizes the request and reads every key in scope with what its findings are judged from. */
  async #keys(ctx: CallContext, scope: Scope, query: ReportQuery): Promise<{ keys: ReportKey[]; digest: string | null }> {
    // Asking for one environment needs that environment; otherwise only the principal's are reported.
    scope.authorize(undefined, query.environment);
    const filter: KeyFilter = {};
    const scoped = scope.principal.environments;
    if (query.environment === undefined && ENVIRONMENTS.some((e) => !scoped.includes(e))) filter.environments = [...scoped];
    if (query.environment !== undefined) filter.environment = scope.details.environment = query.environment;
    if (query.owner !== undefined) filter.owner = scope.details.owner = query.owner;
    if (query.class !== undefined) filter.class = scope.details.class = query.class;
    // One policy for the whole report, even if the file is reloaded meanwhile.
    const policy = this.#policy.current();
    const digest = this.#policy.status().digest;
    const now = scope.now;

    const records = await this.#all(
      (after) => this.#store.listKeys(ctx.namespace, filter, PAGE, after),
      (k) => k.name,
    );
    const principals: PrincipalIndex = new Map(
      (
        await this.#all(
          (after) => this.#store.listPrincipals(PAGE, after),
          (p: PrincipalRecord) => p.id,
        )
      ).map((p) => [p.id, p]),
    );
    const lastUses = new Map((await this.#store.lastUses(ctx.namespace)).map((row) => [row.key, row.lastAt]));
    const incidents = new Map<string, IncidentRecord[]>();
    for (const incident of await this.#openIncidents()) {
      if (incident.namespace !== ctx.namespace) continue;
      incidents.set(incident.keyId, [...(incidents.get(incident.keyId) ?? []), incident]);
    }

    const keys: ReportKey[] = [];
    for (let i = 0; i < records.length; i += BATCH) {
      const batch = records.slice(i, i + BATCH);
      const loaded = await Promise.all(
        batch.map(async (key) => ({ key, versions: await this.#store.getVersions(key.id), grants: await this.#store.listGrants(key.id) })),
      );
      for (const { key, versions, grants } of loaded) {
        const last = lastUses.get(key.name) ?? null;
        // Audit records name keys by name: a use before this key was created was of an earlier key of that name.
        const lastUsedAt = last !== null && last >= key.createdAt ? last : null;
        const findings = findingsOf({ key, versions, grants, lastUsedAt, incidents: incidents.get(key.id) ?? [] }, principals, policy, now);
        const primary = versions.find((v) => v.version === key.primaryVersion);
        keys.push(reportKey(key, primary?.activatedAt ?? null, lastUsedAt, nextReviewAt(key, policy), findings, now));
      }
    }
    return { keys, digest };
  }

  async #openIncidents(): Promise<IncidentRecord[]> {
    // Open incidents are few (each is an emergency being handled); the store lists them across namespaces.
    return this.#store.listOpenIncidents(null, 100_000);
  }

  /** Every row of a listing ordered by `cursor`, page by page. */
  async #all<T>(page: (after: string | null) => Promise<T[]>, cursor: (row: T) => string): Promise<T[]> {
    const out: T[] = [];
    let after: string | null = null;
    for (;;) {
      const rows = await page(after);
      out.push(...rows);
      const last = rows.at(-1);
      if (rows.length < PAGE || last === undefined) return out;
      after = cursor(last);
    }
  }
}

function reportKey(
  key: KeyRecord,
  activatedAt: string | null,
  lastUsedAt: string | null,
  reviewAt: string | null,
  findings: ReportKey['findings'],
  now: Date,
): ReportKey {
  return {
    namespace: key.namespace,
    name: key.name,
    owner: key.owner,
    class: key.class,
    environment: key.environment,
    algorithm: key.algorithm,
    state: key.state,
    primaryVersion: key.primaryVersion,
    primaryActivatedAt: activatedAt,
    primaryAgeDays: activatedAt === null ? null : Math.floor((now.getTime() - new Date(activatedAt).getTime()) / DAY_MS),
    nextRotationAt: key.nextRotationAt,
    lastUsedAt,
    nextReviewAt: reviewAt,
    findings,
  };
}
