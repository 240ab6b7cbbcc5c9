import type { BlastRadiusReport, IncidentFollowUp, IncidentState, IncidentStepName, IncidentStepState, IncidentType } from '@keyward/wire';

/** An incident as the store keeps it (docs/incident-response.md). Steps and acknowledgements live in their own tables. */
export interface IncidentRecord {
  id: string;
  type: IncidentType;
  state: IncidentState;
  namespace: string;
  keyName: string;
  keyId: string;
  version: number;
  reason: string;
  declaredBy: string;
  declaredAt: string;
  origin: 'manual' | 'alert';
  alertId: string | null;
  alertType: string | null;
  /** Request id of the declaration (or `alert-<id>`), repeated in every step's audit record. */
  requestId: string;
  rotatedTo: number | null;
  rekeyedAt: string | null;
  /** Nodes alive at the declaration: containment waits for each to acknowledge. */
  expectedNodes: string[];
  ackTimeoutMs: number;
  containTimedOut: boolean;
  raiseMinAfter: string | null;
  /** When the scheduled raise of `minDecryptionVersion` is due; null when none is pending. */
  raiseMinAt: string | null;
  minRaisedAt: string | null;
  recoveryWaiver: string | null;
  /** The blast radius as found at the declaration. */
  blastRadius: BlastRadiusReport | null;
  /** The last recovery counts computed (for lists, which do not recompute them). */
  recoverySnapshot: RecoveryCounts | null;
  rootCause: string | null;
  followUps: IncidentFollowUp[];
  updatedAt: string;
  closedAt: string | null;
  closedBy: string | null;
}

/** Columns of an incident that change after the declaration; an update writes only those given. */
export type IncidentChange = Partial<
  Pick<
    IncidentRecord,
    | 'state'
    | 'containTimedOut'
    | 'raiseMinAt'
    | 'minRaisedAt'
    | 'recoveryWaiver'
    | 'blastRadius'
    | 'recoverySnapshot'
    | 'rootCause'
    | 'followUps'
    | 'closedAt'
    | 'closedBy'
  >
> & { updatedAt: string };

export interface RecoveryCounts {
  ciphertextsIssued: number;
  dataKeysIssued: number;
  rewrappedBeforeIncident: number;
  rewrappedSinceIncident: number;
}

export interface IncidentStepRecord {
  incidentId: string;
  name: IncidentStepName;
  /** Order of the step in the record. */
  position: number;
  state: IncidentStepState;
  startedAt: string;
  finishedAt: string | null;
  outcome: string;
  details: Record<string, string | number | boolean | null>;
}

/** A node's acknowledgement that it dropped what it cached of an incident's key; the first one per node counts. */
export interface IncidentAckRecord {
  incidentId: string;
  node: string;
  ackedAt: string;
}

/** A Keyward node sharing the database, as it last announced itself. */
export interface NodeRecord {
  id: string;
  startedAt: string;
  lastSeenAt: string;
}

export interface IncidentFilter {
  namespace: string;
  state?: IncidentState;
  keyName?: string;
}

/** Position in the list (newest first): the declaration time, then the id. */
export interface IncidentCursor {
  declaredAt: string;
  id: string;
}

/** Which audit records {@link IncidentStoreOps.versionActivity} counts. */
export interface VersionActivityQuery {
  namespace: string;
  keyName: string;
  version: number;
  /** Records at or after this time only (the key's creation). */
  from: string;
  /** Records before it are phase `before`, the rest `after`. */
  boundary: string;
}

/**
 * Cryptographic audit records (`crypto.*`) that touched one version, grouped.
 * `direction` is `to` when the record names the version (`key_version`),
 * `from` for a successful rewrap that read it (details.fromVersion) and wrote another.
 */
export interface VersionActivityRow {
  actor: string | null;
  source: string;
  /** Without the `crypto.` prefix. */
  operation: string;
  outcome: 'success' | 'denied' | 'error';
  errorCode: string | null;
  direction: 'to' | 'from';
  phase: 'before' | 'after';
  count: number;
  firstAt: string;
  lastAt: string;
}

/** Store operations of incidents (store/incident-ops.ts); part of StoreOps. */
export interface IncidentStoreOps {
  /** Throws StoreConflictError when an open incident exists for the same key version. */
  insertIncident(incident: IncidentRecord): Promise<void>;
  getIncident(id: string): Promise<IncidentRecord | null>;
  /** Writes only the columns in `change`; false when there is no such incident. */
  updateIncident(id: string, change: IncidentChange): Promise<boolean>;
  /** Incidents of a namespace, newest first, strictly after `after` when given. */
  listIncidents(filter: IncidentFilter, limit: number, after: IncidentCursor | null): Promise<IncidentRecord[]>;
  /** Open incidents of one key, or of every key when `keyId` is null, newest first. */
  listOpenIncidents(keyId: string | null, limit: number): Promise<IncidentRecord[]>;
  /** Open incidents whose scheduled raise of `minDecryptionVersion` is due at `now`. */
  incidentsDueForRaise(now: string, limit: number): Promise<IncidentRecord[]>;

  /** Inserts or replaces the step of that name. */
  putIncidentStep(step: IncidentStepRecord): Promise<void>;
  /** Steps of these incidents, in position order. */
  listIncidentSteps(incidentIds: readonly string[]): Promise<IncidentStepRecord[]>;

  /** Records an acknowledgement unless the node already acknowledged (the first one stands). */
  ackIncident(ack: IncidentAckRecord): Promise<void>;
  listIncidentAcks(incidentIds: readonly string[]): Promise<IncidentAckRecord[]>;

  /** Inserts or refreshes a node's row. */
  heartbeatNode(node: NodeRecord): Promise<void>;
  removeNode(id: string): Promise<void>;
  /** Nodes seen at or after `since`, by id. */
  liveNodes(since: string): Promise<NodeRecord[]>;

  /** Counts the audit records that touched one key version (see {@link VersionActivityRow}). */
  versionActivity(query: VersionActivityQuery): Promise<VersionActivityRow[]>;
}
