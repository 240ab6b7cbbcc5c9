/** Incidents (`/v1/incidents`, docs/incident-response.md): the key-compromise playbook and its record. */
import type { BatchItemError, EncryptionContext, EncryptResponse } from './types.js';

export const INCIDENT_TYPES = ['key_compromise'] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

/** `open` from the declaration until someone closes it (root cause set, recovery done or waived). */
export const INCIDENT_STATES = ['open', 'closed'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/**
 * The steps of the playbook, in the order they run: the first five at
 * declaration, `raise_min_decryption_version` when its grace period ends,
 * `close` when the incident is closed.
 */
export const INCIDENT_STEPS = ['contain', 'rotate', 'notify', 'blast_radius', 'recovery', 'raise_min_decryption_version', 'close'] as const;
export type IncidentStepName = (typeof INCIDENT_STEPS)[number];

/** `timed_out`: containment was not acknowledged by every node in time; `waived`: recovery was waived on closing. */
export const INCIDENT_STEP_STATES = ['running', 'done', 'skipped', 'failed', 'timed_out', 'waived'] as const;
export type IncidentStepState = (typeof INCIDENT_STEP_STATES)[number];

/** `POST /v1/incidents`. The key is looked up in the request's namespace; `version` defaults to the primary version. */
export interface DeclareIncidentRequest {
  type: IncidentType;
  key: string;
  version?: number;
  reason: string;
  /** After this grace period (a duration such as `7d`) the key's `minDecryptionVersion` rises above the version. */
  raiseMinDecryptionVersionAfter?: string;
}

export interface IncidentStepView {
  name: IncidentStepName;
  state: IncidentStepState;
  startedAt: string;
  /** Null while running. */
  finishedAt: string | null;
  durationMs: number | null;
  /** One sentence saying what happened. */
  outcome: string;
  details: Record<string, string | number | boolean | null>;
}

/** One node's acknowledgement that it dropped what it cached of the version. */
export interface IncidentNodeAck {
  node: string;
  /** Whether the node was alive at the declaration, so containment waited for it. */
  expected: boolean;
  /** Null while the node has not acknowledged. */
  ackedAt: string | null;
  /** `ackedAt − declaredAt` (each node's own clock). */
  delayMs: number | null;
}

export interface IncidentContainment {
  /** When the last expected node acknowledged; null until every one has. */
  containedAt: string | null;
  timeToContainMs: number | null;
  /** How long the contain step waited for acknowledgements. */
  timeoutMs: number;
  /** True when the contain step gave up waiting (some node did not acknowledge in time). */
  timedOut: boolean;
  nodes: IncidentNodeAck[];
}

/**
 * Re-encryption of what was issued under the version. Counts are of
 * operations in the audit trail (Keyward stores no ciphertexts): a
 * ciphertext rewrapped twice counts twice.
 */
export interface IncidentRecovery {
  ciphertextsIssued: number;
  dataKeysIssued: number;
  /** Rewraps that read the version and wrote another one, before and since the declaration. */
  rewrappedBeforeIncident: number;
  rewrappedSinceIncident: number;
  /** Ciphertexts and data keys issued under the version and not yet rewrapped away from it. */
  remaining: number;
  /** Nothing remains, or the version no longer decrypts (`minDecryptionVersion` is above it, or it is destroyed). */
  complete: boolean;
  /** Why recovery was waived, when it was. */
  waived: string | null;
  raiseMinDecryptionVersionAfter: string | null;
  raiseMinDecryptionVersionAt: string | null;
  minDecryptionVersionRaisedAt: string | null;
}

export interface IncidentFollowUp {
  action: string;
  owner: string;
  /** A date (`2026-07-01`) or an RFC 3339 time. */
  due?: string;
  done: boolean;
}

/** One use pattern of the version: a principal, from a source address, doing one operation. */
export interface BlastRadiusUse {
  principal: string;
  source: string;
  /**
   * `encrypt`, `decrypt`, `data-key`, `sign`, `verify`, `mac`, `verify-mac`,
   * `public-key`; `rewrap` for a ciphertext rewrapped *to* the version,
   * `rewrap-from` for one read from it and rewrapped to another.
   */
  operation: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

/** Refused or failed attempts to use the version after containment. */
export interface BlastRadiusDenial {
  principal: string | null;
  source: string;
  operation: string;
  errorCode: string;
  count: number;
  firstAt: string;
  lastAt: string;
}

/**
 * `GET /v1/incidents/{id}/blast-radius`: who used the version, from where, for
 * what, counted from the audit trail (each batch item is one use).
 */
export interface BlastRadiusReport {
  incident: string;
  namespace: string;
  key: string;
  keyId: string;
  version: number;
  /** Uses are counted from here (the key's creation: records of an earlier key of that name are not this key's). */
  from: string;
  /** Uses before this time were made while the version was trusted; later ones are listed under `afterContainment`. */
  declaredAt: string;
  generatedAt: string;
  principals: string[];
  sources: string[];
  firstUseAt: string | null;
  lastUseAt: string | null;
  /** Operation → count, before the declaration. */
  byOperation: Record<string, number>;
  uses: BlastRadiusUse[];
  issued: { ciphertexts: number; dataKeys: number; signatures: number; macs: number };
  afterContainment: { uses: BlastRadiusUse[]; denied: BlastRadiusDenial[] };
}

export interface IncidentView {
  id: string;
  type: IncidentType;
  state: IncidentState;
  namespace: string;
  key: string;
  keyId: string;
  version: number;
  reason: string;
  declaredBy: string;
  declaredAt: string;
  /** `alert` when an alert opened it (automatic containment). */
  origin: 'manual' | 'alert';
  alertId: string | null;
  alertType: string | null;
  /** The version that replaced a compromised primary; null when no rotation was needed. */
  rotatedTo: number | null;
  rekeyedAt: string | null;
  timeToRekeyMs: number | null;
  containment: IncidentContainment;
  recovery: IncidentRecovery;
  steps: IncidentStepView[];
  rootCause: string | null;
  followUps: IncidentFollowUp[];
  updatedAt: string;
  closedAt: string | null;
  closedBy: string | null;
  /** The blast radius as the playbook found it at the declaration (single-incident answers only). */
  blastRadius?: BlastRadiusReport | null;
}

/** `GET /v1/incidents`: newest first. */
export interface IncidentList {
  incidents: IncidentView[];
  nextCursor: string | null;
}

export interface IncidentListQuery {
  state?: IncidentState;
  /** Incidents of this key (in the request's namespace). */
  key?: string;
  limit?: number;
  cursor?: string;
}

/** `PATCH /v1/incidents/{id}`. `followUps` replaces the whole list. */
export interface PatchIncidentRequest {
  rootCause?: string;
  followUps?: IncidentFollowUp[];
  /** Closing needs a root cause, and recovery complete or waived. */
  state?: 'closed';
  /** Closes the recovery step without completing it; say why. */
  waiveRecovery?: string;
}

/** `POST /v1/incidents/{id}/rewrap`: re-encrypts under the key's primary version. */
export interface IncidentRewrapRequest {
  items: Array<{ ciphertext: string; context?: EncryptionContext }>;
}

export interface IncidentRewrapResponse {
  items: Array<EncryptResponse | BatchItemError>;
  recovery: IncidentRecovery;
}

/**
 * One line of `POST /v1/incidents` answered as `application/x-ndjson`: steps
 * as they happen, then the incident (or an error once streaming has begun).
 */
export type IncidentProgressLine =
  | { type: 'step'; step: IncidentStepView }
  | { type: 'incident'; incident: IncidentView }
  | { type: 'error'; error: { code: string; message: string; requestId: string } };
