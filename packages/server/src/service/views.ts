import type { GrantView, KeyVersionView, KeyView, PrincipalView } from '@keyward/wire';
import type { Policy } from '../policy/policy.js';
import { nextReviewAt } from '../policy/review.js';
import type { GrantRecord, KeyRecord, PrincipalRecord, VersionRecord } from '../store/records.js';

export function versionView(v: VersionRecord): KeyVersionView {
  return {
    version: v.version,
    state: v.state,
    createdAt: v.createdAt,
    activatedAt: v.activatedAt,
    deactivatedAt: v.deactivatedAt,
    compromisedAt: v.compromisedAt,
    destroyedAt: v.destroyedAt,
    uses: v.uses,
    fingerprint: v.fingerprint,
    publicKey: v.publicKey,
    trigger: v.trigger,
    activationDate: v.activateAt,
    origin: v.trigger === 'import' ? 'imported' : 'generated',
  };
}

/** The API's view of a key; `policy` is the policy in force (the next review date depends on it). */
export function keyView(key: KeyRecord, policy: Policy, versions?: readonly VersionRecord[]): KeyView {
  const view: KeyView = {
    id: key.id,
    name: key.name,
    namespace: key.namespace,
    algorithm: key.algorithm,
    usage: key.usage,
    state: key.state,
    owner: key.owner,
    class: key.class,
    environment: key.environment,
    description: key.description,
    tags: key.tags,
    rotationPeriod: key.rotationPeriod,
    maxUsesPerVersion: key.maxUsesPerVersion,
    nextRotationAt: key.nextRotationAt,
    primaryVersion: key.primaryVersion,
    exportable: key.exportable,
    protection: key.protection,
    deletionWindowDays: key.deletionWindowDays,
    deletionDate: key.deletionDate,
    createdAt: key.createdAt,
    updatedAt: key.updatedAt,
    minDecryptionVersion: key.minDecryptionVersion,
    prepublishPeriod: key.prepublishPeriod,
    originatorPeriod: key.originatorPeriod,
    lastReviewedAt: key.lastReviewedAt,
    nextReviewAt: nextReviewAt(key, policy),
  };
  if (versions !== undefined) view.versions = versions.map(versionView);
  return view;
}

/** A principal as the API shows it, with its mutual-TLS identities (sorted; none when absent). */
export function principalView(p: PrincipalRecord, tlsIdentities: readonly string[] = []): PrincipalView {
  return {
    id: p.id,
    kind: p.kind,
    roles: p.roles,
    environments: p.environments,
    teams: p.teams,
    createdAt: p.createdAt,
    disabled: p.disabled,
    offboardedAt: p.offboardedAt,
    tlsIdentities: [...tlsIdentities],
  };
}

export function grantView(g: GrantRecord, key: KeyRecord): GrantView {
  return {
    id: g.id,
    key: key.name,
    namespace: key.namespace,
    principal: g.principal,
    operations: g.operations,
    createdAt: g.createdAt,
    createdBy: g.createdBy,
  };
}
