import type {
  AlgorithmName,
  ApprovalState,
  ApprovalView,
  AuditOutcome,
  AuditRecordView,
  Environment,
  KeyClass,
  KeyOperation,
  KeyProtection,
  KeyState,
  KeyUsage,
  PrincipalKind,
  Role,
  VersionState,
} from '@keyward/wire';

/** Plain data the store keeps. Material is always wrapped; nothing here is a secret in the clear. */
export interface KeyRecord {
  id: string;
  namespace: string;
  name: string;
  algorithm: AlgorithmName;
  usage: KeyUsage;
  state: KeyState;
  owner: string;
  class: KeyClass;
  environment: Environment;
  description: string;
  tags: Record<string, string>;
  rotationPeriod: string | null;
  maxUsesPerVersion: number | null;
  nextRotationAt: string | null;
  primaryVersion: number;
  exportable: boolean;
  /** `hsm`: each version is a non-extractable object in the PKCS#11 token and `material` holds its reference (CKA_ID), not wrapped bytes. */
  protection: KeyProtection;
  deletionWindowDays: number;
  deletionDate: string | null;
  createdAt: string;
  updatedAt: string;
  /** Versions below this refuse to decrypt and verify (reversible until they are destroyed). */
  minDecryptionVersion: number;
  /** How long before a rotation the next version is published `pre_active` (for JWKS caches). */
  prepublishPeriod: string | null;
  /** How long a version may encrypt and sign after activation; then it is deactivated (NIST SP 800-57 originator-usage period). */
  originatorPeriod: string | null;
  /** When the scheduler must look at this key next (internal; see keys/schedule-rules.ts). */
  nextCheckAt: string | null;
  /** When the key was last reviewed; null: never. */
  lastReviewedAt: string | null;
  /**
   * A review asked for by an event (the owner was offboarded) rather than by
   * the calendar: due at this time whatever the class's review interval says.
   * Cleared by the next review. See {@link nextReviewAt} in policy/review.ts.
   */
  reviewDueAt: string | null;
}

/** Why a version was created; `import` is BYOK import (docs/transit.md). */
export type RotationTrigger = 'created' | 'manual' | 'time' | 'use' | 'event' | 'import';

export interface VersionRecord {
  keyId: string;
  version: number;
  state: VersionState;
  createdAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  compromisedAt: string | null;
  destroyedAt: string | null;
  uses: number;
  fingerprint: string;
  publicKey: string | null;
  /**
   * Material wrapped under the namespace KEK of `kekVersion`; for a key with
   * `protection: hsm`, the CKA_ID of the version's object in the token (not a
   * secret). Null once destroyed.
   */
  material: Uint8Array | null;
  kekVersion: number;
  trigger: RotationTrigger;
  /** Uses reserved by nodes (in blocks) against the use limit; always ≥ uses. */
  reserved: number;
  /** When a `pre_active` version becomes active and primary; null otherwise. */
  activateAt: string | null;
}

export const EVENT_TYPES = [
  'key.created',
  'key.updated',
  'key.rotated',
  'key.state_changed',
  'version.state_changed',
  'version.compromised',
  'key.deletion_scheduled',
  'key.deletion_cancelled',
  'key.destroyed',
  'alert.raised',
  'alert.resolved',
  'incident.opened',
  'incident.closed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * A change dependent systems may react to; ids increase monotonically.
 * `namespace`, `key` and `keyId` are null only for events not about a key (`alert.*`).
 */
export interface KeyEvent {
  type: EventType;
  time: string;
  namespace: string | null;
  key: string | null;
  keyId: string | null;
  version: number | null;
  data: Record<string, string | number | boolean | null>;
}

export interface StoredKeyEvent extends KeyEvent {
  id: number;
}

export interface KekRecord {
  namespace: string;
  version: number;
  wrapped: Uint8Array;
  createdAt: string;
}

export interface PrincipalRecord {
  id: string;
  kind: PrincipalKind;
  roles: Role[];
  environments: Environment[];
  teams: string[];
  createdAt: string;
  disabled: boolean;
  /** When the principal was offboarded; an offboarded principal is disabled for good. */
  offboardedAt: string | null;
}

export interface TokenRecord {
  id: string;
  principalId: string;
  /** SHA-256 of the token; the token itself is never stored. */
  tokenHash: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface GrantRecord {
  id: string;
  keyId: string;
  principal: string;
  operations: KeyOperation[];
  createdAt: string;
  createdBy: string;
}

/** A quorum approval as stored: the wire view (docs/governance.md, "Approvals"), plus its write counter. */
export interface ApprovalRecord extends Omit<ApprovalView, 'state'> {
  /** Stored state; `pending` past `expiresAt` is shown as `expired`. */
  state: ApprovalState;
  /** Bumped by every change: an update names the revision it read, so concurrent votes cannot both win. */
  revision: number;
  /**
   * Who asked, as authenticated then: an OIDC person is not stored, so the
   * approved operation runs with these roles, environments and teams unless
   * a stored principal of that id has been disabled since.
   */
  requesterIdentity: Pick<PrincipalRecord, 'kind' | 'roles' | 'environments' | 'teams'> & { via: 'token' | 'oidc' | 'mtls' };
}

export interface ApprovalFilter {
  state?: ApprovalState;
  key?: string;
  requester?: string;
}

export type { AuditOutcome };

/**
 * One audit record as a request produces it: the wire record without its
 * place in a chain (the audit log adds that). Never holds plaintext, key
 * material, tokens or shares.
 */
export interface AuditRecord extends Omit<AuditRecordView, 'chain' | 'seq' | 'prevHash' | 'hash'> {
  /**
   * Values the record must not hold in the clear (an encryption context):
   * the audit log stores each as `hmac-sha256:<hex>` under the audit salt in
   * `details`, never these bytes.
   */
  sensitive?: Readonly<Record<string, Uint8Array>>;
}

/** An audit record placed in its chain (see audit/audit-log.ts and docs/audit.md). */
export interface ChainedAuditRecord extends AuditRecord {
  chain: string;
  /** Position in the chain, from 1. */
  chainSeq: number;
  prevHash: string;
  hash: string;
}

export interface StoredAuditRecord extends ChainedAuditRecord {
  /** Insertion order across all chains (a paging cursor, not part of the chain). */
  seq: number;
}

/** Filters of `GET /v1/audit/events`; all optional, combined with AND. */
export interface AuditQuery {
  namespace?: string;
  key?: string;
  keyVersion?: number;
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** ISO times as `toISOString()` writes them; `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
}

export interface KeyFilter {
  owner?: string;
  class?: KeyClass;
  environment?: Environment;
  /** Only keys in one of these (a principal's environments). */
  environments?: Environment[];
  state?: KeyState;
  algorithm?: AlgorithmName;
  tag?: { key: string; value: string };
  q?: string;
}

/** Successful cryptographic operations of one principal with one version, counted from the audit records. */
export interface UsageRow {
  version: number;
  principal: string;
  /** The operation without its `crypto.` prefix: `decrypt`, `verify`, …. */
  operation: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

/** The last successful cryptographic operation on a key (by name), from the audit records. */
export interface LastUseRow {
  key: string;
  lastAt: string;
}

export type WebhookState = 'active' | 'failing';

/**
 * A webhook subscription. `secret` is the signing secret wrapped under the
 * root key (AAD binds it to the webhook id); it is never stored in the clear.
 */
export interface WebhookRecord {
  id: string;
  url: string;
  events: EventType[];
  secret: Uint8Array;
  createdAt: string;
  createdBy: string;
  state: WebhookState;
  /** Why the webhook is failing; null while active. */
  failureReason: string | null;
  /** Delivery progress, written only by the dispatcher (see {@link WebhookProgress}). */
  cursor: number;
  attempts: number;
  nextAttemptAt: string | null;
  lastDeliveryAt: string | null;
}

/** The part of a webhook the dispatcher moves forward. */
export type WebhookProgress = Pick<WebhookRecord, 'state' | 'failureReason' | 'cursor' | 'attempts' | 'nextAttemptAt' | 'lastDeliveryAt'>;

/** One delivery attempt of one event to one webhook. */
export interface WebhookDeliveryRecord {
  /** Sent as `X-Keyward-Delivery`; unique per attempt. */
  id: string;
  webhookId: string;
  eventId: number;
  eventType: EventType;
  attempt: number;
  time: string;
  /** The receiver's HTTP status, or null when no answer came (then `error` says why). */
  status: number | null;
  error: string | null;
  durationMs: number;
  /** When this event is tried again; null after a success or the last attempt. */
  nextRetryAt: string | null;
}

export interface StoredWebhookDelivery extends WebhookDeliveryRecord {
  seq: number;
}
