/** Row shapes as Kysely sees them. Times are RFC 3339 strings; JSON columns are text; booleans are 0/1. */
import type { Generated } from 'kysely';
import type { AlertCursorTable, AlertStateTable, AlertTable } from './alert-schema.js';
import type { IncidentAckTable, IncidentStepTable, IncidentTable, NodeTable } from './incident-schema.js';

type Int = number | string; // pg returns BIGINT as a string

export interface MetaTable {
  name: string;
  value: string;
}
export interface KekTable {
  namespace: string;
  version: number;
  wrapped: Uint8Array;
  created_at: string;
}
export interface KeyTable {
  id: string;
  namespace: string;
  name: string;
  algorithm: string;
  usage: string;
  state: string;
  owner: string;
  class: string;
  environment: string;
  description: string;
  tags: string;
  rotation_period: string | null;
  max_uses_per_version: Int | null;
  next_rotation_at: string | null;
  primary_version: number;
  exportable: number;
  protection: string;
  deletion_window_days: number;
  deletion_date: string | null;
  created_at: string;
  updated_at: string;
  min_decryption_version: number;
  prepublish_period: string | null;
  originator_period: string | null;
  next_check_at: string | null;
  last_reviewed_at: string | null;
  review_due_at: string | null;
}
export interface KeyTagTable {
  key_id: string;
  tag_key: string;
  tag_value: string;
}
export interface KeyVersionTable {
  key_id: string;
  version: number;
  state: string;
  created_at: string;
  activated_at: string | null;
  deactivated_at: string | null;
  compromised_at: string | null;
  destroyed_at: string | null;
  uses: Int;
  fingerprint: string;
  public_key: string | null;
  material: Uint8Array | null;
  kek_version: number;
  trigger: string;
  reserved: Int;
  activate_at: string | null;
}
export interface PrincipalTable {
  id: string;
  kind: string;
  roles: string;
  environments: string;
  teams: string;
  created_at: string;
  disabled: number;
  offboarded_at: string | null;
}
export interface TokenTable {
  id: string;
  principal_id: string;
  token_hash: string;
  description: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}
export interface GrantTable {
  id: string;
  key_id: string;
  principal: string;
  operations: string;
  created_at: string;
  created_by: string;
}
export interface AuditTable {
  seq: Generated<Int>;
  time: string;
  actor: string | null;
  action: string;
  namespace: string | null;
  key_name: string | null;
  key_version: number | null;
  outcome: string;
  error_code: string | null;
  request_id: string;
  source: string;
  details: string;
  /** Null only while migration 6 runs; every record is chained. */
  chain: string | null;
  chain_seq: Int | null;
  prev_hash: string | null;
  hash: string | null;
}

export interface AuditChainTable {
  chain: string;
  seq: Int;
  hash: string;
}

export interface AuditCheckpointTable {
  id: Generated<Int>;
  time: string;
  node: string;
  /** JSON array of {chain, seq, hash}. */
  heads: string;
  key_id: string;
  signature: string;
}

export interface EventTable {
  id: Generated<Int>;
  time: string;
  type: string;
  /** Null only for events not about a key (`alert.*`; nullable since migration 7). */
  namespace: string | null;
  key_name: string | null;
  key_id: string | null;
  key_version: number | null;
  data: string;
}

export interface WebhookTable {
  id: string;
  url: string;
  events: string;
  secret: Uint8Array;
  created_at: string;
  created_by: string;
  state: string;
  failure_reason: string | null;
  cursor: Int;
  attempts: number;
  next_attempt_at: string | null;
  last_delivery_at: string | null;
}

export interface WebhookDeliveryTable {
  seq: Generated<Int>;
  id: string;
  webhook_id: string;
  event_id: Int;
  event_type: string;
  attempt: number;
  time: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
  next_retry_at: string | null;
}

/** A quorum approval: indexed columns plus the whole record as JSON (`body`). */
export interface ApprovalTable {
  id: string;
  state: string;
  namespace: string;
  key_name: string;
  requester: string;
  created_at: string;
  expires_at: string;
  revision: number;
  body: string;
}
export interface PrincipalTotpTable {
  principal_id: string;
  /** Wrapped under the root key (Keyring.wrapSecret). */
  secret: Uint8Array;
  created_at: string;
  confirmed_at: string | null;
  last_step: Int | null;
}
export interface PrincipalTlsIdentityTable {
  identity: string;
  principal_id: string;
}

export interface ImportWrappingKeyTable {
  id: string;
  namespace: string;
  public_key: string;
  /** PKCS#8 DER wrapped under the namespace KEK `kek_version`. */
  private_key: Uint8Array;
  kek_version: number;
  created_at: string;
  rotate_at: string;
  expires_at: string;
}
export interface ImportTokenTable {
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  token_hash: string;
  namespace: string;
  key_id: string;
  algorithm: string;
  wrapping_key_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface Database {
  meta: MetaTable;
  keks: KekTable;
  keys: KeyTable;
  key_tags: KeyTagTable;
  key_versions: KeyVersionTable;
  principals: PrincipalTable;
  tokens: TokenTable;
  grants: GrantTable;
  audit_events: AuditTable;
  audit_chains: AuditChainTable;
  audit_checkpoints: AuditCheckpointTable;
  events: EventTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  alerts: AlertTable;
  alert_states: AlertStateTable;
  alert_cursors: AlertCursorTable;
  incidents: IncidentTable;
  incident_steps: IncidentStepTable;
  incident_acks: IncidentAckTable;
  keyward_nodes: NodeTable;
  approvals: ApprovalTable;
  principal_totp: PrincipalTotpTable;
  principal_tls_identities: PrincipalTlsIdentityTable;
  import_wrapping_keys: ImportWrappingKeyTable;
  import_tokens: ImportTokenTable;
}
