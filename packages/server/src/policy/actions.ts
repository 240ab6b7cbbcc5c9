import type { KeyOperation } from '@keyward/wire';

/** Every action the service authorizes. Cryptographic actions are the key operations themselves. */
export type ManagementAction =
  | 'sys.init'
  | 'sys.unseal'
  | 'sys.seal'
  | 'auth.self'
  | 'key.create'
  | 'key.list'
  | 'key.read'
  | 'key.update'
  | 'key.reclassify'
  | 'key.rotate'
  | 'key.enable'
  | 'key.disable'
  | 'version.deactivate'
  | 'version.compromise'
  | 'version.destroy'
  | 'version.recover'
  | 'key.schedule-deletion'
  | 'key.cancel-deletion'
  | 'key.jwks'
  | 'key.usage'
  | 'principal.create'
  | 'principal.read'
  | 'token.create'
  | 'token.revoke'
  | 'grant.create'
  | 'grant.read'
  | 'grant.delete'
  | 'events.read'
  | 'webhook.manage'
  | 'webhook.read';

export type Action = ManagementAction | `crypto.${KeyOperation}`;
