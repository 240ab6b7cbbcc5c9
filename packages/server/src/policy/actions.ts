import { KEY_OPERATIONS, type KeyOperation } from '@keyward/wire';

/**
 * Every management action the service authorizes, in one list so the Cedar
 * schema (policy/cedar/cedar-schema.ts) declares exactly these.
 * `version.import` is BYOK import (import parameters and the import itself);
 * `version.export` is wrapped export (docs/transit.md).
 */
export const MANAGEMENT_ACTIONS = [
  'sys.init',
  'sys.unseal',
  'sys.seal',
  'backup.create',
  'auth.self',
  'auth.totp-enrol',
  'auth.totp-confirm',
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
  'version.recover',
  'version.import',
  'version.export',
  'key.schedule-deletion',
  'key.cancel-deletion',
  'key.jwks',
  'key.usage',
  'principal.create',
  'principal.read',
  'principal.update',
  'principal.totp-remove',
  'principal.offboard',
  'token.create',
  'token.revoke',
  'grant.create',
  'grant.read',
  'grant.delete',
  'audit.read',
  'audit.verify',
  'audit.export',
  'audit.hash',
  'audit.checkpoint',
  'events.read',
  'webhook.manage',
  'webhook.read',
  'alert.read',
  'alert.acknowledge',
  'alert.resolve',
  'policy.read',
  'incident.declare',
  'incident.read',
  'incident.update',
  'incident.rewrap',
  'key.review',
  'approval.read',
  'approval.vote',
  'report.read',
  'attestation.read',
] as const;

export type ManagementAction = (typeof MANAGEMENT_ACTIONS)[number];

/** Every action the service authorizes. Cryptographic actions are the key operations themselves. */
export type Action = ManagementAction | `crypto.${KeyOperation}`;

/** Every action, management then cryptographic (`crypto.<operation>`). */
export const ACTIONS: readonly Action[] = Object.freeze([...MANAGEMENT_ACTIONS, ...KEY_OPERATIONS.map((op) => `crypto.${op}` as const)]);
