import type { AlertState, AlertType, AlertView } from '@keyward/wire';

/** An anomaly alert as the store keeps it (docs/alerts.md): the wire form plus its deduplication key. */
export interface AlertRecord extends AlertView {
  /** Type and subject in one string; at most one unresolved alert per value. */
  dedupKey: string;
}

export interface StoredAlert extends AlertRecord {
  /** Insertion order; the list's paging cursor. */
  seq: number;
}

/** Filters of `GET /v1/alerts`; all optional, combined with AND. */
export interface AlertFilter {
  state?: AlertState;
  type?: AlertType;
  namespace?: string;
  key?: string;
}

/** One subject's remembered state for one detector (JSON the detector owns); `state: null` deletes it. */
export interface DetectorStateRow {
  subject: string;
  state: string | null;
}

/** How far the alert engine has read one audit chain. */
export interface AlertCursor {
  chain: string;
  chainSeq: number;
}
