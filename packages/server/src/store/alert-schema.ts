/** Row shapes of the alert tables (migration 7, docs/alerts.md). */
import type { Generated } from 'kysely';

type Int = number | string; // pg returns BIGINT as a string

export interface AlertTable {
  /** Insertion order: the list's paging cursor (newest first). */
  seq: Generated<Int>;
  id: string;
  type: string;
  severity: string;
  state: string;
  /** Type and subject in one string: at most one unresolved alert per value (a partial unique index). */
  dedup_key: string;
  namespace: string | null;
  key_name: string | null;
  key_version: number | null;
  principal: string | null;
  source: string | null;
  summary: string;
  first_seen: string;
  last_seen: string;
  count: Int;
  /** JSON {facts, records}. */
  evidence: string;
  /** JSON array of strings. */
  next_steps: string;
  raised_at: string;
  updated_at: string;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  acknowledge_note: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
  resolve_note: string | null;
}

/** What a detector remembers about one subject (a pair seen, a baseline, a window of times), as JSON. */
export interface AlertStateTable {
  detector: string;
  subject: string;
  state: string;
  updated_at: string;
}

/** How far the alert engine has read each audit chain. */
export interface AlertCursorTable {
  chain: string;
  chain_seq: Int;
}
