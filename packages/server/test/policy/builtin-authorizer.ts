import type { KeyOperation, Role } from '@keyward/wire';
import type { Action, ManagementAction } from '../../src/policy/actions.js';
import type { AuthorizationRequest, Authorizer, Decision } from '../../src/policy/authorizer.js';
import type { Principal } from '../../src/service/context.js';
import type { GrantRecord, KeyRecord } from '../../src/store/records.js';

/** Management actions each built-in role may take (API.md, "Built-in roles"). */
const ROLE_ACTIONS: Readonly<Record<Role, readonly ManagementAction[]>> = Object.freeze({
  admin: [], // everything; handled first
  'key-admin': [
    'key.create',
    'key.list',
    'key.read',
    'key.update',
    'key.reclassify',
    'key.rotate',
    'key.enable',
    'key.disable',
    'version.deactivate',
    'version.compromise',
    'version.destroy',
    'version.import',
    'key.schedule-deletion',
    'key.cancel-deletion',
    'grant.create',
    'grant.read',
    'grant.delete',
    'principal.read',
    'key.jwks',
    'key.usage',
    'events.read',
    'webhook.manage',
    'webhook.read',
    'incident.read',
    'key.review',
    'approval.read',
    'report.read',
  ],
  'key-user': [],
  auditor: [
    'audit.read',
    'audit.verify',
    'audit.export',
    'audit.hash',
    'key.list',
    'key.read',
    'grant.read',
    'principal.read',
    'key.jwks',
    'key.usage',
    'events.read',
    'webhook.read',
    'incident.read',
    'alert.read',
    'policy.read',
    'approval.read',
    'report.read',
    'attestation.read',
  ],
  approver: ['approval.read', 'approval.vote', 'key.list', 'key.read'],
});

/** Management actions a key's owner (the principal or a member of the owning team) may take on it. */
const OWNER_ACTIONS: readonly ManagementAction[] = [
  'key.read',
  'key.update',
  'key.review',
  'grant.read',
  'key.jwks',
  'key.usage',
  'incident.read',
];

/**
 * Incident actions decided as the action they stand for: whoever may declare
 * a key's version compromised may declare and update its incidents; the
 * recovery rewrap needs what a rewrap needs (docs/incident-response.md).
 */
const DECIDED_AS: Readonly<Partial<Record<ManagementAction, Action>>> = Object.freeze({
  'incident.declare': 'version.compromise',
  'incident.update': 'version.compromise',
  'incident.rewrap': 'crypto.rewrap',
});

/** Grants that let a key-user read a key's JWK Set: whoever may verify, or fetch public keys, with it. */
const JWKS_OPERATIONS: readonly KeyOperation[] = ['public-key', 'verify'];

const allow = (reason: string): Decision => ({ allowed: true, reason });
const deny = (reason: string): Decision => ({ allowed: false, reason });

function holdsGrant(principal: Principal, grants: readonly GrantRecord[], operation: KeyOperation | null): boolean {
  return grants.some(
    (g) =>
      (g.principal === principal.id || principal.teams.includes(g.principal)) && (operation === null || g.operations.includes(operation)),
  );
}

function isOwner(principal: Principal, key: KeyRecord): boolean {
  return key.owner === principal.id || principal.teams.includes(key.owner);
}

/**
 * The authorizer Keyward had before Cedar, kept as the oracle of
 * cedar-equivalence.test.ts: the shipped Cedar policies must decide as it does.
 *
 * Built-in roles and per-key grants:
 * - `admin` may do everything;
 * - `key-admin` manages keys and grants but performs no cryptographic operation;
 * - every role acts only on keys in the principal's environments (a key being
 *   created or moved counts in its new environment);
 * - `key-user` performs the operations a grant names, on keys in its environments;
 * - `auditor` reads metadata and reports; `approver` reads keys and votes on
 *   approvals in its environments (never on its own requests: the approval service checks that);
 * - a key's owner may read and edit its metadata, read its JWK Set and its usage report;
 * - a key's JWK Set (`key.jwks`) is also open to a key-user whose grant allows
 *   `public-key` or `verify` (in its environments), as the public-key operation is.
 */
export class BuiltinAuthorizer implements Authorizer {
  authorize(request: AuthorizationRequest): Decision {
    const { principal, action, key } = request;
    if (action === 'auth.self') return allow('every principal may read itself');
    // Enrolling one's own authenticator; the service refuses it to anyone but a local user.
    if (action === 'auth.totp-enrol' || action === 'auth.totp-confirm') return allow('every principal may enrol its own second factor');
    // Environments bound every role, admin included: a principal scoped to dev or test
    // neither uses nor creates nor manages a prod key.
    const environment = key?.record.environment ?? request.environment;
    if (environment !== undefined && !principal.environments.includes(environment)) {
      return deny(`'${principal.id}' is not scoped to environment ${environment}`);
    }
    if (principal.roles.includes('admin')) return allow('role admin');
    const decidedAs = DECIDED_AS[action as ManagementAction];
    if (decidedAs !== undefined) {
      const decision = this.authorize({ principal, action: decidedAs, ...(key === undefined ? {} : { key }) });
      const reason = `${decision.reason} (${action} is decided as ${decidedAs})`;
      return decision.allowed ? allow(reason) : deny(reason);
    }
    if (action.startsWith('crypto.')) return this.#crypto(principal, action.slice('crypto.'.length) as KeyOperation, key);
    const management = action as ManagementAction;
    for (const role of principal.roles) {
      if (ROLE_ACTIONS[role].includes(management)) return allow(`role ${role}`);
    }
    if (key !== undefined) {
      if (OWNER_ACTIONS.includes(management) && isOwner(principal, key.record)) return allow('key owner');
      if (management === 'key.read' && principal.roles.includes('key-user') && holdsGrant(principal, key.grants, null)) {
        return allow('key-user holding a grant');
      }
      if (management === 'key.jwks') {
        const byGrant = JWKS_OPERATIONS.map((op) => this.#crypto(principal, op, key)).find((d) => d.allowed);
        if (byGrant !== undefined) return allow(`${byGrant.reason} for public-key or verify`);
      }
    }
    return deny(`no role of '${principal.id}' allows ${action}`);
  }

  #crypto(principal: Principal, operation: KeyOperation, key: AuthorizationRequest['key']): Decision {
    if (!principal.roles.includes('key-user')) return deny(`'${principal.id}' does not hold the key-user role`);
    if (key === undefined) return deny('no key');
    if (!holdsGrant(principal, key.grants, operation)) return deny(`no grant allows '${principal.id}' to ${operation} with this key`);
    return allow('key-user with a grant');
  }
}
