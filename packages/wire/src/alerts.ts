/** Anomaly alerts (`/v1/alerts`, docs/alerts.md) and the policy-file status (`GET /v1/sys/policy`). */
import type { ClassStandards } from './classes.js';

/**
 * What an alert is about. Each type has one detector; its thresholds are in
 * the `alerts:` section of the policy file (docs/alerts.md).
 */
export const ALERT_TYPES = [
  'first_use',
  'volume_spike',
  'invalid_ciphertext_burst',
  'compromised_version_use',
  'deactivated_version_use',
  'auth_failure_burst',
  'off_hours_admin',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export const ALERT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** `open` → `acknowledged` (someone is looking) → `resolved` (closed, with a note). */
export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** Who or what an alert is about; the fields that do not apply to its type are null. */
export interface AlertSubject {
  namespace: string | null;
  key: string | null;
  version: number | null;
  principal: string | null;
  /** A client address (failed authentications, anonymous administrative calls). */
  source: string | null;
}

/** An audit record that triggered an alert, by its place in the audit trail (`GET /v1/audit/events`). */
export interface AlertEvidenceRecord {
  chain: string;
  chainSeq: number;
  seq: number;
  time: string;
  action: string;
  actor: string | null;
  source: string;
  outcome: string;
  errorCode: string | null;
  requestId: string;
}

export interface AlertEvidence {
  /** The numbers the detector decided on (counts, window, threshold, baseline, …). */
  facts: Record<string, string | number | boolean | null>;
  /** The triggering audit records (the most recent ones when there were many). */
  records: AlertEvidenceRecord[];
}

export interface AlertView {
  id: string;
  type: AlertType;
  severity: AlertSeverity;
  state: AlertState;
  /** One sentence saying what happened. */
  summary: string;
  subject: AlertSubject;
  /** Time of the first and of the latest triggering audit record. */
  firstSeen: string;
  lastSeen: string;
  /** Occurrences merged into this alert (an unresolved alert of the same type and subject is updated, not duplicated). */
  count: number;
  evidence: AlertEvidence;
  /** What to do next, in order. */
  nextSteps: string[];
  raisedAt: string;
  updatedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  acknowledgeNote: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolveNote: string | null;
}

/** `GET /v1/alerts`: newest first. */
export interface AlertList {
  alerts: AlertView[];
  nextCursor: string | null;
}

export interface AlertListQuery {
  state?: AlertState;
  type?: AlertType;
  /** Alerts about this key (in the request's namespace). */
  key?: string;
  limit?: number;
  cursor?: string;
}

/** `POST /v1/alerts/{id}/acknowledge` (note optional). */
export interface AcknowledgeAlertRequest {
  note?: string;
}

/** `POST /v1/alerts/{id}/resolve` (note required: say why it is closed). */
export interface ResolveAlertRequest {
  note: string;
}

/** `GET /v1/sys/policy`: which policy is in force, and why a newer file was refused. */
export interface PolicyStatusView {
  /** The policy file's path (it may not exist: then the documented defaults are in force). */
  path: string;
  /** `file` when the policy in force was read from `path`, `defaults` when no file existed. */
  source: 'file' | 'defaults';
  loadedAt: string;
  /** SHA-256 (hex) of the file in force; null for the defaults. */
  digest: string | null;
  /** Why the last reload was refused (the previous policy stayed in force); null after a good load. */
  lastError: string | null;
  lastErrorAt: string | null;
  /** The class standards in force (the policy's `classes:` section, defaults included). */
  classes: ClassStandards;
  /** The operator's Cedar policies (docs/governance.md, "Cedar policies"); the shipped ones are always in force. */
  cedar: CedarPolicyStatusView;
}

/** The policy directory (`--policy-dir`): which `*.cedar` files are in force, and why a newer set was refused. */
export interface CedarPolicyStatusView {
  /** The directory's path; null when the server reads none (only the shipped policies). */
  directory: string | null;
  /** The `*.cedar` files in force, by name, in load order. */
  files: string[];
  /** The ids of the operator's policies in force (the shipped ones are not listed). */
  policies: string[];
  /** SHA-256 (hex) over the files' names and contents; null when there are none. */
  digest: string | null;
  loadedAt: string;
  /** Why the last reload was refused (the previous policies stayed in force); null after a good load. */
  lastError: string | null;
  lastErrorAt: string | null;
}
