/** Request and response shapes of shared/API.md, shared by server, SDK and CLI. */

import type { VersionOrigin } from './byok.js';
import type { KeyProtection } from './classes.js';

export const ALGORITHMS = [
  'aes-256-gcm',
  'chacha20-poly1305',
  'hmac-sha256',
  'hmac-sha512',
  'ed25519',
  'ecdsa-p256',
  'ecdsa-p384',
  'rsa-pss-3072',
  'rsa-pss-4096',
  'ml-dsa-65',
  'rsa-oaep-3072',
  'rsa-oaep-4096',
] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export type KeyUsage = 'encrypt' | 'mac' | 'sign';
export const KEY_STATES = ['enabled', 'disabled', 'pending_deletion', 'destroyed'] as const;
export type KeyState = (typeof KEY_STATES)[number];
export const VERSION_STATES = ['pre_active', 'active', 'deactivated', 'compromised', 'destroyed', 'destroyed_compromised'] as const;
export type VersionState = (typeof VERSION_STATES)[number];
export const ENVIRONMENTS = ['prod', 'staging', 'dev', 'test'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const KEY_CLASSES = ['critical', 'high', 'standard', 'low'] as const;
export type KeyClass = (typeof KEY_CLASSES)[number];
export const ROLES = ['admin', 'key-admin', 'key-user', 'auditor', 'approver'] as const;
export type Role = (typeof ROLES)[number];
export const PRINCIPAL_KINDS = ['user', 'service', 'team'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];
export const KEY_OPERATIONS = ['encrypt', 'decrypt', 'rewrap', 'data-key', 'sign', 'verify', 'mac', 'verify-mac', 'public-key'] as const;
export type KeyOperation = (typeof KEY_OPERATIONS)[number];

export interface KeyVersionView {
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
  /** Why this version was created: created, manual, time, use, event or import. */
  trigger: string;
  /** When a pre_active version becomes active; null otherwise. */
  activationDate: string | null;
  /** `imported` for material brought in with BYOK import, `generated` otherwise. */
  origin: VersionOrigin;
}

export interface KeyView {
  id: string;
  name: string;
  namespace: string;
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
  /** Where the key's versions live: `software` (wrapped in the store) or `hsm` (non-extractable objects in the PKCS#11 token). Fixed at creation. */
  protection: KeyProtection;
  deletionWindowDays: number;
  deletionDate: string | null;
  createdAt: string;
  updatedAt: string;
  minDecryptionVersion: number;
  prepublishPeriod: string | null;
  originatorPeriod: string | null;
  /** When the key was last reviewed (`POST /v1/keys/{name}/review`); null: never. */
  lastReviewedAt: string | null;
  /** When a review is due: the class's review interval after the last review (or creation); now after the owner changed by offboarding. */
  nextReviewAt: string | null;
  versions?: KeyVersionView[];
}

export interface CreateKeyRequest {
  name: string;
  algorithm: AlgorithmName;
  owner: string;
  class?: KeyClass;
  environment?: Environment;
  description?: string;
  tags?: Record<string, string>;
  rotationPeriod?: string;
  maxUsesPerVersion?: number;
  exportable?: boolean;
  /** `hsm`: every version is generated and used inside the PKCS#11 token. Default: `hsm` when the class requires it, else `software`. */
  protection?: KeyProtection;
  deletionWindowDays?: number;
  /** Publish the next version `pre_active` this long before it becomes primary (JWKS overlap). */
  prepublishPeriod?: string;
  /** How long a version may encrypt and sign after activation (NIST SP 800-57 originator-usage period). */
  originatorPeriod?: string;
}

export interface PatchKeyRequest {
  owner?: string;
  class?: KeyClass;
  environment?: Environment;
  description?: string;
  tags?: Record<string, string>;
  rotationPeriod?: string | null;
  maxUsesPerVersion?: number | null;
  deletionWindowDays?: number;
  prepublishPeriod?: string | null;
  originatorPeriod?: string | null;
  /** Versions below this refuse to decrypt and verify; reversible until they are destroyed. */
  minDecryptionVersion?: number;
}

export interface RotateKeyRequest {
  reason?: string;
  /** Create the new version `pre_active`; the scheduler activates it (and makes it primary) at this time. */
  activationDate?: string;
}

export interface KeyListQuery {
  owner?: string;
  class?: KeyClass;
  environment?: Environment;
  state?: KeyState;
  algorithm?: AlgorithmName;
  tag?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

export interface KeyList {
  keys: KeyView[];
  nextCursor: string | null;
}

export type EncryptionContext = Record<string, string>;

export interface EncryptRequest {
  plaintext: string;
  context?: EncryptionContext;
}
export interface EncryptResponse {
  ciphertext: string;
  keyVersion: number;
}
export interface DecryptRequest {
  ciphertext: string;
  context?: EncryptionContext;
}
export interface DecryptResponse {
  plaintext: string;
  keyVersion: number;
}
export interface DataKeyRequest {
  bytes?: number;
  context?: EncryptionContext;
  includePlaintext?: boolean;
}
export interface DataKeyResponse {
  plaintext?: string;
  ciphertext: string;
  keyVersion: number;
}
export interface SignRequest {
  message?: string;
  digest?: string;
}
export interface SignResponse {
  signature: string;
  keyVersion: number;
}
export interface VerifyRequest {
  message?: string;
  digest?: string;
  signature: string;
  keyVersion?: number;
}
export interface VerifyResponse {
  valid: boolean;
  keyVersion: number | null;
}
export interface MacRequest {
  message: string;
}
export interface MacResponse {
  mac: string;
  keyVersion: number;
}
export interface VerifyMacRequest {
  message: string;
  mac: string;
}
export interface VerifyMacResponse {
  valid: boolean;
  keyVersion?: number | null;
}
export interface PublicKeyResponse {
  publicKey: string;
  jwk: Record<string, unknown>;
  keyVersion: number;
}

export interface BatchItemError {
  error: { code: string; message: string };
}
export interface BatchRequest<T> {
  items: T[];
}
export interface BatchResponse<T> {
  items: Array<T | BatchItemError>;
}

export interface PrincipalView {
  id: string;
  kind: PrincipalKind;
  roles: Role[];
  environments: Environment[];
  teams: string[];
  createdAt: string;
  disabled: boolean;
  /** When the principal was offboarded (disabled for good, its keys reassigned); null otherwise. */
  offboardedAt: string | null;
  /** Identities of its mutual-TLS client certificates (`uri:…`, `dns:…`), sorted; see {@link TLS_IDENTITY_PATTERN}. */
  tlsIdentities: string[];
}
export interface CreatePrincipalRequest {
  id: string;
  kind: PrincipalKind;
  roles?: Role[];
  environments?: Environment[];
  teams?: string[];
  /** Mutual-TLS client identities: a certificate whose SAN URI or DNS name is one of these authenticates as this principal. */
  tlsIdentities?: string[];
}
/** `PATCH /v1/principals/{id}`: the fields given replace the stored ones. */
export interface UpdatePrincipalRequest {
  /** Replaces every identity (an empty list removes them all). */
  tlsIdentities?: string[];
}
/**
 * A mutual-TLS client identity: `uri:` and an absolute URI (a SPIFFE ID,
 * say), or `dns:` and a host name, lower case. A certificate matches when one
 * of its SAN URIs (`uri:` + the URI) or DNS names (`dns:` + the name) is it.
 */
export const TLS_IDENTITY_PATTERN =
  '^(uri:[a-zA-Z][a-zA-Z0-9+.-]*:[^\\s]{1,1000}|dns:(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)$';
/** At most this many identities per principal. */
export const MAX_TLS_IDENTITIES = 16;
export interface CreateTokenRequest {
  ttl?: string;
  description?: string;
}
export interface CreatedToken {
  id: string;
  token: string;
  expiresAt: string | null;
  principal: string;
}

export interface GrantView {
  id: string;
  key: string;
  namespace: string;
  principal: string;
  operations: KeyOperation[];
  createdAt: string;
  createdBy: string;
}
export interface CreateGrantRequest {
  principal: string;
  operations: KeyOperation[];
}

export interface Health {
  initialized: boolean;
  sealed: boolean;
  version: string;
  seal?: string;
}
export interface InitRequest {
  shares?: number;
  threshold?: number;
}
export interface InitResponse {
  unsealShares: string[];
  adminToken: string;
}
export interface UnsealRequest {
  share: string;
}
export interface UnsealResponse {
  sealed: boolean;
  progress: number;
  threshold: number;
}
export interface SelfResponse {
  principal: PrincipalView;
  roles: Role[];
}

/**
 * `POST /v1/auth/totp`: a new TOTP authenticator for the caller, shown once.
 * It is pending until `POST /v1/auth/totp/confirm` proves the app holds it.
 */
export interface TotpEnrolment {
  /** The shared secret, base32 (RFC 4648), for typing into an authenticator app. */
  secret: string;
  /** The same as an `otpauth://totp/…` URI (for a QR code). */
  uri: string;
}

/** `POST /v1/auth/totp/confirm`. */
export interface ConfirmTotpRequest {
  /** The authenticator's current 6-digit code. */
  code: string;
}

/** `POST /v1/auth/totp/confirm`: the authenticator now guards the caller's admin-level actions. */
export interface TotpConfirmed {
  principal: string;
  confirmedAt: string;
}

/**
 * `GET /v1/keys/{name}/jwks`: a JWK Set (RFC 7517 §5) of every version of an
 * asymmetric key that may still verify (or be encrypted to), plus a
 * `pre_active` one published ahead of its activation; newest first.
 * `kid` is `<key id>:<version>`.
 */
export interface JwkSet {
  keys: Array<
    Record<string, unknown> & {
      kty: string;
      kid: string;
      alg: 'EdDSA' | 'ES256' | 'ES384' | 'PS256' | 'PS512' | 'ML-DSA-65' | 'RSA-OAEP-256';
      use: 'sig' | 'enc';
    }
  >;
}

/**
 * `GET /v1/keys/{name}/usage?since=`: successful cryptographic operations per
 * version (every version, newest first, zero counts included), by principal
 * and operation, counted from the audit records.
 */
export interface UsageReport {
  key: string;
  since: string | null;
  versions: Array<{
    version: number;
    state: VersionState;
    total: number;
    lastUsedAt: string | null;
    byPrincipal: Array<{
      principal: string;
      /** Operation (`decrypt`, `verify`, …) → count. */
      operations: Partial<Record<KeyOperation, number>>;
      lastUsedAt: string;
    }>;
  }>;
}

/** Types of events (`GET /v1/events`, webhooks): key events, and alerts raised and resolved. */
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
 * A change dependent systems may react to: the `data:` of a Server-Sent
 * Event on `GET /v1/events`, and the body of a webhook delivery. Ids increase
 * monotonically across the whole service. `namespace`, `key` and `keyId` are
 * null for events that are not about a key (an `alert.*` about a source or a
 * principal); key events always carry them.
 */
export interface KeyEventView {
  id: number;
  type: EventType;
  time: string;
  namespace: string | null;
  key: string | null;
  keyId: string | null;
  version: number | null;
  data: Record<string, string | number | boolean | null>;
}

/** `POST /v1/webhooks`. The secret (16–256 characters) signs every delivery and is never returned. */
export interface CreateWebhookRequest {
  url: string;
  events: EventType[];
  secret: string;
}

export type WebhookState = 'active' | 'failing';

export interface WebhookView {
  id: string;
  url: string;
  events: EventType[];
  createdAt: string;
  createdBy: string;
  /** `failing` after an event exhausted its attempts; back to `active` on the next success. */
  state: WebhookState;
  failureReason: string | null;
  /** The last event id delivered (or skipped as not subscribed, or given up on). */
  cursor: number;
  lastDeliveryAt: string | null;
  /** When the pending event is tried again, while it is being retried. */
  nextAttemptAt: string | null;
}

/** One delivery attempt (`GET /v1/webhooks/{id}/deliveries`, newest first). */
export interface WebhookDeliveryView {
  id: string;
  eventId: number;
  eventType: EventType;
  attempt: number;
  time: string;
  /** The receiver's HTTP status; null when no answer came (then `error` says why). */
  status: number | null;
  error: string | null;
  durationMs: number;
  /** When the event is tried again; null after a success or once attempts are exhausted. */
  nextRetryAt: string | null;
}
