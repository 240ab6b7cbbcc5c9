import type { Finding, KeyOperation } from '@keyward/wire';
import { addMs, parseDuration } from '../keys/duration.js';
import type { IncidentRecord } from '../store/incident-records.js';
import type { GrantRecord, KeyRecord, PrincipalRecord, VersionRecord } from '../store/records.js';
import { classViolations } from './class-standards.js';
import type { Policy } from './policy.js';
import { nextReviewAt } from './review.js';

/** What the findings of one key are computed from; read once per report, so every key is judged against the same state. */
export interface KeyFacts {
  key: KeyRecord;
  versions: readonly VersionRecord[];
  grants: readonly GrantRecord[];
  /** The last successful cryptographic operation with this key (not an earlier key of its name); null: never. */
  lastUsedAt: string | null;
  /** Open incidents of this key. */
  incidents: readonly IncidentRecord[];
}

/** Every principal, by id: owners are looked up here, and members of a team are those listing it in `teams`. */
export type PrincipalIndex = ReadonlyMap<string, PrincipalRecord>;

/** Keys in these states can still be used or managed; keys on their way out are judged only on open incidents. */
const LIVE = new Set<KeyRecord['state']>(['enabled', 'disabled']);

const isActive = (p: PrincipalRecord): boolean => !p.disabled && p.offboardedAt === null;

/** `payments-db` in the default namespace; other namespaces need the header the CLI sets with `--namespace`. */
const cli = (key: KeyRecord, command: string): string =>
  key.namespace === 'default' ? `keyward ${command}` : `keyward --namespace ${key.namespace} ${command}`;

/**
 * The findings of one key under `policy` at `now` (docs/governance.md,
 * "Reports"), in the order of FINDING_KINDS. Pure: the report service reads
 * the facts, this judges them.
 */
export function findingsOf(facts: KeyFacts, principals: PrincipalIndex, policy: Policy, now: Date): Finding[] {
  const { key } = facts;
  const found: Finding[] = [];
  const push = (finding: Finding | null) => {
    if (finding !== null) found.push(finding);
  };
  if (LIVE.has(key.state)) {
    push(orphaned(key, principals));
    push(rotationOverdue(key, now));
    push(reviewOverdue(key, policy, now));
    push(unused(facts, policy, now));
    push(expired(facts, now));
    push(nonCompliant(key, policy));
    found.push(...separationOfDuties(facts, principals, policy));
    push(exportableCritical(key));
  }
  found.push(...openIncidents(facts));
  return found;
}

function orphaned(key: KeyRecord, principals: PrincipalIndex): Finding | null {
  const remediation = `hand the key to an active owner: PATCH /v1/keys/${key.name} {"owner":"<principal or team>"} (${cli(key, `key update ${key.name} --owner OWNER`)})`;
  const owner = principals.get(key.owner);
  if (owner !== undefined) {
    if (isActive(owner)) return null;
    const how = owner.offboardedAt !== null ? `was offboarded at ${owner.offboardedAt}` : 'is disabled';
    return { kind: 'orphaned', since: owner.offboardedAt, detail: `owner '${key.owner}' ${how}`, remediation };
  }
  const members = [...principals.values()].filter((p) => p.teams.includes(key.owner));
  if (members.some(isActive)) return null;
  if (members.length === 0) {
    return {
      kind: 'orphaned',
      since: null,
      detail: `owner '${key.owner}' is neither a principal nor a team any principal belongs to`,
      remediation,
    };
  }
  // Every member is gone: the team was left empty when the last of them was offboarded.
  const left = members.map((m) => m.offboardedAt);
  const since = left.every((t) => t !== null) ? ((left as string[]).sort().at(-1) ?? null) : null;
  return { kind: 'orphaned', since, detail: `every member of team '${key.owner}' is disabled or offboarded`, remediation };
}

function rotationOverdue(key: KeyRecord, now: Date): Finding | null {
  if (key.state !== 'enabled' || key.nextRotationAt === null || new Date(key.nextRotationAt) > now) return null;
  return {
    kind: 'rotation_overdue',
    since: key.nextRotationAt,
    detail: `rotation by time was due at ${key.nextRotationAt} (every ${key.rotationPeriod ?? '-'}) and has not happened: is the scheduler running?`,
    remediation: `check the scheduler (keyward_scheduler_step_failures_total, the server log), or rotate now: POST /v1/keys/${key.name}/rotate (${cli(key, `key rotate ${key.name}`)})`,
  };
}

function reviewOverdue(key: KeyRecord, policy: Policy, now: Date): Finding | null {
  const due = nextReviewAt(key, policy);
  if (due === null || new Date(due) > now) return null;
  const why =
    key.reviewDueAt !== null && key.reviewDueAt <= due
      ? 'asked for when its owner was offboarded'
      : `every ${policy.classes[key.class].reviewInterval} for class ${key.class}`;
  return {
    kind: 'review_overdue',
    since: due,
    detail: `a review was due at ${due} (${why}); last reviewed ${key.lastReviewedAt ?? 'never'}`,
    remediation: `the owner or a key administrator reviews the key (owner, grants, usage) and records it: POST /v1/keys/${key.name}/review {"note":"…"}`,
  };
}

function unused(facts: KeyFacts, policy: Policy, now: Date): Finding | null {
  const { key, lastUsedAt } = facts;
  const threshold = policy.classes[key.class].unusedKeyThreshold;
  if (threshold === null) return null;
  // A key never used counts from its creation.
  const from = lastUsedAt ?? key.createdAt;
  const since = addMs(new Date(from), parseDuration('unusedKeyThreshold', threshold));
  if (since > now) return null;
  const last = lastUsedAt === null ? `never used since its creation at ${key.createdAt}` : `last used at ${lastUsedAt}`;
  return {
    kind: 'unused',
    since: since.toISOString(),
    detail: `${last}, longer than the ${threshold} class ${key.class} allows (classes.${key.class}.unusedKeyThreshold)`,
    remediation: `if nothing needs it, disable it and schedule its deletion: POST /v1/keys/${key.name}/disable, then POST /v1/keys/${key.name}/schedule-deletion (${cli(key, `key schedule-deletion ${key.name}`)}); if it is still needed, say why in a review: POST /v1/keys/${key.name}/review`,
  };
}

function expired(facts: KeyFacts, now: Date): Finding | null {
  const { key, versions } = facts;
  const primary = versions.find((v) => v.version === key.primaryVersion);
  const remediation = `rotate it to get a version that may encrypt and sign: POST /v1/keys/${key.name}/rotate (${cli(key, `key rotate ${key.name}`)}); the scheduler does so by itself when it runs`;
  if (primary === undefined || primary.state !== 'active') {
    const state = primary?.state ?? 'missing';
    const since = primary?.deactivatedAt ?? primary?.compromisedAt ?? primary?.destroyedAt ?? null;
    return {
      kind: 'expired',
      since,
      detail: `primary version ${key.primaryVersion} is ${state}: no version may encrypt or sign`,
      remediation,
    };
  }
  if (key.originatorPeriod === null || primary.activatedAt === null) return null;
  const end = addMs(new Date(primary.activatedAt), parseDuration('originatorPeriod', key.originatorPeriod));
  if (end > now) return null;
  return {
    kind: 'expired',
    since: end.toISOString(),
    detail: `the originator-usage period (${key.originatorPeriod}) of primary version ${primary.version} ended at ${end.toISOString()}`,
    remediation,
  };
}

function nonCompliant(key: KeyRecord, policy: Policy): Finding | null {
  const broken = classViolations(policy, key);
  if (broken.length === 0) return null;
  return {
    kind: 'non_compliant',
    since: null,
    detail: `breaks its class standard: ${broken.map((v) => v.message).join('; ')}`,
    remediation: `patch the key into compliance (PATCH /v1/keys/${key.name} with its settings, or another class; ${cli(key, `key update ${key.name}`)}); an algorithm or export setting cannot change: move the key to a class that allows it, or replace it with a new key`,
  };
}

/** Operations that use a key (every grantable operation is one). */
const describeOps = (ops: readonly KeyOperation[]): string => [...new Set(ops)].sort().join(', ');

function separationOfDuties(facts: KeyFacts, principals: PrincipalIndex, policy: Policy): Finding[] {
  const { key, grants } = facts;
  const exempt = new Set(policy.separationOfDuties.exempt);
  const found: Finding[] = [];
  for (const principal of [...principals.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    // Outside its environments a principal neither manages nor uses the key (the authorizer refuses both).
    if (!isActive(principal) || exempt.has(principal.id) || !principal.environments.includes(key.environment)) continue;
    const held = grants.filter((g) => g.principal === principal.id || principal.teams.includes(g.principal));
    if (held.length === 0) continue;
    const roles: string[] = principal.roles.filter((r) => r === 'admin' || r === 'key-admin');
    if (key.owner === principal.id) roles.push('owner');
    else if (principal.teams.includes(key.owner)) roles.push(`owner (member of ${key.owner})`);
    if (roles.length === 0) continue;
    const via = [...new Set(held.map((g) => (g.principal === principal.id ? 'directly' : `via ${g.principal}`)))].join(', ');
    const since = held.map((g) => g.createdAt).sort()[0] ?? null;
    found.push({
      kind: 'separation_of_duties',
      since,
      detail: `'${principal.id}' manages the key (${roles.join(', ')}) and holds a grant to ${describeOps(held.flatMap((g) => g.operations))} with it (${via})`,
      remediation: `remove the grant (DELETE /v1/keys/${key.name}/grants/{grantId}; ${cli(key, `grant remove ${key.name} GRANT_ID`)}: ${held.map((g) => g.id).join(', ')}) or the management role, or exempt '${principal.id}' in the policy file (separationOfDuties.exempt)`,
    });
  }
  return found;
}

function exportableCritical(key: KeyRecord): Finding | null {
  if (!key.exportable || key.class !== 'critical') return null;
  return {
    kind: 'exportable_critical',
    since: key.createdAt,
    detail: 'a critical key whose material may leave Keyward (exportable)',
    remediation: `export cannot be turned off on an existing key: replace it with a new key created with "exportable": false, move data to it, then schedule this one's deletion (POST /v1/keys/${key.name}/schedule-deletion); or, if it is not critical, reclassify it (PATCH /v1/keys/${key.name} {"class":"high"})`,
  };
}

function openIncidents(facts: KeyFacts): Finding[] {
  return [...facts.incidents]
    .sort((a, b) => (a.declaredAt < b.declaredAt ? -1 : a.declaredAt > b.declaredAt ? 1 : 0))
    .map((incident) => ({
      kind: 'open_incident' as const,
      since: incident.declaredAt,
      detail: `incident ${incident.id} (${incident.type}) on version ${incident.version} is open: ${incident.reason}`,
      remediation: `finish the playbook (rewrap, root cause, follow-ups) and close it: PATCH /v1/incidents/${incident.id} {"state":"closed"} (keyward incident update ${incident.id} --close)`,
    }));
}
