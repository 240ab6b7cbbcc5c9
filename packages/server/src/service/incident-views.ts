import type { IncidentContainment, IncidentNodeAck, IncidentRecovery, IncidentView } from '@keyward/wire';
import type { IncidentAckRecord, IncidentRecord, IncidentStepRecord } from '../store/incident-records.js';
import { stepView } from './incident-journal.js';

const since = (from: string, to: string): number => Math.max(0, Date.parse(to) - Date.parse(from));

/**
 * Containment as measured: every node alive at the declaration with its
 * acknowledgement (or none yet), then nodes that acknowledged without being
 * waited for (started later). Contained once every expected node has
 * acknowledged; a late acknowledgement after a timeout still completes it.
 */
export function containmentView(incident: IncidentRecord, acks: readonly IncidentAckRecord[]): IncidentContainment {
  const byNode = new Map(acks.map((a) => [a.node, a.ackedAt]));
  const node = (id: string, expected: boolean): IncidentNodeAck => {
    const ackedAt = byNode.get(id) ?? null;
    return { node: id, expected, ackedAt, delayMs: ackedAt === null ? null : since(incident.declaredAt, ackedAt) };
  };
  const expected = incident.expectedNodes.map((id) => node(id, true));
  const others = acks.filter((a) => !incident.expectedNodes.includes(a.node)).map((a) => node(a.node, false));
  const complete = expected.every((n) => n.ackedAt !== null);
  const containedAt = complete
    ? expected.reduce<string>((last, n) => ((n.ackedAt as string) > last ? (n.ackedAt as string) : last), incident.declaredAt)
    : null;
  return {
    containedAt,
    timeToContainMs: containedAt === null ? null : since(incident.declaredAt, containedAt),
    timeoutMs: incident.ackTimeoutMs,
    timedOut: incident.containTimedOut,
    nodes: [...expected, ...others],
  };
}

export function incidentView(
  incident: IncidentRecord,
  steps: readonly IncidentStepRecord[],
  acks: readonly IncidentAckRecord[],
  recovery: IncidentRecovery,
  withBlastRadius: boolean,
): IncidentView {
  const view: IncidentView = {
    id: incident.id,
    type: incident.type,
    state: incident.state,
    namespace: incident.namespace,
    key: incident.keyName,
    keyId: incident.keyId,
    version: incident.version,
    reason: incident.reason,
    declaredBy: incident.declaredBy,
    declaredAt: incident.declaredAt,
    origin: incident.origin,
    alertId: incident.alertId,
    alertType: incident.alertType,
    rotatedTo: incident.rotatedTo,
    rekeyedAt: incident.rekeyedAt,
    timeToRekeyMs: incident.rekeyedAt === null ? null : since(incident.declaredAt, incident.rekeyedAt),
    containment: containmentView(
      incident,
      acks.filter((a) => a.incidentId === incident.id),
    ),
    recovery,
    steps: steps
      .filter((s) => s.incidentId === incident.id)
      .sort((a, b) => a.position - b.position)
      .map(stepView),
    rootCause: incident.rootCause,
    followUps: incident.followUps,
    updatedAt: incident.updatedAt,
    closedAt: incident.closedAt,
    closedBy: incident.closedBy,
  };
  if (withBlastRadius) view.blastRadius = incident.blastRadius;
  return view;
}
