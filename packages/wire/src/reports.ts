/** Inventory and compliance reports (docs/governance.md, "Reports"). */
import type { AlgorithmName, Environment, KeyClass, KeyState } from './types.js';

/**
 * Kinds of finding, in the order reports list them. Stable ids: dashboards
 * and alerting rules may switch on them.
 */
export const FINDING_KINDS = [
  'orphaned',
  'rotation_overdue',
  'review_overdue',
  'unused',
  'expired',
  'non_compliant',
  'separation_of_duties',
  'exportable_critical',
  'open_incident',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** Formats of `GET /v1/reports/*` (`?format=`). */
export const REPORT_FORMATS = ['json', 'csv', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Something about a key that needs an owner's or an administrator's attention. */
export interface Finding {
  kind: FindingKind;
  /** When the condition started, when known (RFC 3339); null when it cannot be told. */
  since: string | null;
  /** One sentence saying what is wrong with this key. */
  detail: string;
  /** What to do about it: the API call or CLI command that resolves it. */
  remediation: string;
}

/** One key as the reports show it. */
export interface ReportKey {
  namespace: string;
  name: string;
  owner: string;
  class: KeyClass;
  environment: Environment;
  algorithm: AlgorithmName;
  state: KeyState;
  primaryVersion: number;
  /** When the primary version was activated; null if it never was. */
  primaryActivatedAt: string | null;
  /** Whole days since the primary version was activated; null if it never was. */
  primaryAgeDays: number | null;
  nextRotationAt: string | null;
  /** The last successful cryptographic operation with the key (from the audit records); null: never used. */
  lastUsedAt: string | null;
  nextReviewAt: string | null;
  findings: Finding[];
}

/** Filters of both reports; all optional, combined with AND. */
export interface ReportQuery {
  environment?: Environment;
  owner?: string;
  class?: KeyClass;
}

/** `GET /v1/reports/inventory`: every key in the caller's environments (and the filters), by name. */
export interface InventoryReport {
  generatedAt: string;
  namespace: string;
  /** SHA-256 of the policy file in force; null when the documented defaults are in force. */
  policyDigest: string | null;
  keys: ReportKey[];
}

/** The accountability line of one owner. */
export interface OwnerSummary {
  owner: string;
  /** Keys the owner owns (in the report's scope). */
  keys: number;
  /** Of those, how many have at least one finding. */
  keysWithFindings: number;
  /** Findings on the owner's keys. */
  openFindings: number;
  /** The earliest `since` of those findings; null when none tells when it started. */
  oldestFindingSince: string | null;
}

/** `GET /v1/reports/compliance`: only keys with findings, counts per kind, and who is accountable. */
export interface ComplianceReport {
  generatedAt: string;
  namespace: string;
  policyDigest: string | null;
  /** Keys examined (every key in scope, with findings or not). */
  keysExamined: number;
  /** Findings per kind; every kind is present, zero when none. */
  counts: Record<FindingKind, number>;
  keys: ReportKey[];
  /** One line per owner of a key in scope, by owner. */
  owners: OwnerSummary[];
}
