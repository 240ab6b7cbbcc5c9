import { KEY_OPERATIONS, type KeyOperation } from '@keyward/wire';

/** The id of the shipped policy that bounds every role to the principal's environments. */
export const ENVIRONMENT_POLICY_ID = 'keyward-environment-scope';

const A = (action: string): string => `Keyward::Action::${JSON.stringify(action)}`;
const list = (actions: readonly string[]): string => `[\n    ${actions.map(A).join(',\n    ')}\n  ]`;

/** A key-user's grant for `operation` lets it take `crypto.<operation>` (and the incident rewrap, which is a rewrap). */
const grantPolicy = (operation: KeyOperation): string => {
  const actions = operation === 'rewrap' ? [`crypto.${operation}`, 'incident.rewrap'] : [`crypto.${operation}`];
  return `@id("keyward-key-user-grant-${operation}")
permit (
  principal,
  action in ${list(actions)},
  resource is Keyward::Key
) when { principal.roles.contains("key-user") && context.operations.contains(${JSON.stringify(operation)}) };`;
};

/**
 * Keyward's built-in roles and grants as Cedar policies (docs/governance.md,
 * "Cedar policies"). They are always loaded first; the operator's policy
 * directory adds to them and narrows them with `forbid`, but cannot remove
 * them. `packages/server/test/policy/cedar-equivalence.test.ts` proves they
 * decide as the built-in authorizer did.
 */
export const BUILTIN_POLICIES = `// Every principal may read itself (GET /v1/auth/self), whatever its environments.
@id("keyward-self")
permit (principal, action == ${A('auth.self')}, resource);

// Every principal may enrol its own TOTP authenticator (the service refuses it to
// anyone but a local user), whatever its environments.
@id("keyward-self-totp")
permit (principal, action in ${list(['auth.totp-enrol', 'auth.totp-confirm'])}, resource);

// Environments bound every role, admin included: nothing is done on a key, or in an
// environment, outside the principal's environments.
@id("${ENVIRONMENT_POLICY_ID}")
forbid (principal, action, resource)
when { context has environment && !principal.environments.contains(context.environment) }
unless { action in ${list(['auth.self', 'auth.totp-enrol', 'auth.totp-confirm'])} };

@id("keyward-admin")
permit (principal, action, resource)
when { principal.roles.contains("admin") };

// key-admin manages keys and grants but performs no cryptographic operation; declaring
// and updating an incident is decided as declaring a version compromised. It may import
// material (BYOK, a rotation with the operator's key); wrapped export (version.export)
// is left to admin, and to whatever the operator's own policies permit.
@id("keyward-key-admin")
permit (
  principal,
  action in ${list([
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
    'incident.declare',
    'incident.update',
    'key.review',
    'approval.read',
    'report.read',
  ])},
  resource
) when { principal.roles.contains("key-admin") };

// auditor reads metadata, the audit trail, approvals, reports and attestations.
@id("keyward-auditor")
permit (
  principal,
  action in ${list([
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
  ])},
  resource
) when { principal.roles.contains("auditor") };

// approver reads keys and approvals and votes on quorum requests in its environments
// (never on its own: the approval service refuses that, whatever the policies say).
@id("keyward-approver")
permit (
  principal,
  action in ${list(['approval.read', 'approval.vote', 'key.list', 'key.read'])},
  resource
) when { principal.roles.contains("approver") };

// A key's owner (the principal, or a team it belongs to) reads and edits its metadata,
// records reviews, reads its grants, JWK Set, usage report and incidents.
@id("keyward-key-owner")
permit (
  principal,
  action in ${list(['key.read', 'key.update', 'key.review', 'grant.read', 'key.jwks', 'key.usage', 'incident.read'])},
  resource is Keyward::Key
) when { resource.owner == principal.id || principal.teams.contains(resource.owner) };

// A key-user performs the operations its grants (or its teams' grants) name on the key.
${KEY_OPERATIONS.map(grantPolicy).join('\n\n')}

// A key-user holding any grant on a key may read the key.
@id("keyward-key-user-read")
permit (principal, action == ${A('key.read')}, resource is Keyward::Key)
when { principal.roles.contains("key-user") && context.grantHolder };

// A key-user whose grant allows public-key or verify may read the key's JWK Set.
@id("keyward-key-user-jwks")
permit (principal, action == ${A('key.jwks')}, resource is Keyward::Key)
when {
  principal.roles.contains("key-user") &&
  (context.operations.contains("public-key") || context.operations.contains("verify"))
};
`;
