/** Row shapes of the incident tables (migration 8, docs/incident-response.md). */

export interface IncidentTable {
  id: string;
  type: string;
  state: string;
  namespace: string;
  key_name: string;
  key_id: string;
  key_version: number;
  reason: string;
  declared_by: string;
  declared_at: string;
  origin: string;
  alert_id: string | null;
  alert_type: string | null;
  request_id: string;
  rotated_to: number | null;
  rekeyed_at: string | null;
  /** JSON array of node ids. */
  expected_nodes: string;
  ack_timeout_ms: number;
  contain_timed_out: number;
  raise_min_after: string | null;
  raise_min_at: string | null;
  min_raised_at: string | null;
  recovery_waiver: string | null;
  /** JSON BlastRadiusReport, or null. */
  blast_radius: string | null;
  /** JSON RecoveryCounts, or null. */
  recovery_snapshot: string | null;
  root_cause: string | null;
  /** JSON array of follow-ups. */
  follow_ups: string;
  updated_at: string;
  closed_at: string | null;
  closed_by: string | null;
}

export interface IncidentStepTable {
  incident_id: string;
  name: string;
  position: number;
  state: string;
  started_at: string;
  finished_at: string | null;
  outcome: string;
  /** JSON object. */
  details: string;
}

export interface IncidentAckTable {
  incident_id: string;
  node_id: string;
  acked_at: string;
}

export interface NodeTable {
  node_id: string;
  started_at: string;
  last_seen_at: string;
}
