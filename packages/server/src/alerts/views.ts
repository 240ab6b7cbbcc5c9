import type { AlertView } from '@keyward/wire';
import type { AlertRecord } from '../store/alert-records.js';

/** An alert as clients see it (field order fixed). */
export function alertView(a: AlertRecord): AlertView {
  return {
    id: a.id,
    type: a.type,
    severity: a.severity,
    state: a.state,
    summary: a.summary,
    subject: { ...a.subject },
    firstSeen: a.firstSeen,
    lastSeen: a.lastSeen,
    count: a.count,
    evidence: a.evidence,
    nextSteps: a.nextSteps,
    raisedAt: a.raisedAt,
    updatedAt: a.updatedAt,
    acknowledgedAt: a.acknowledgedAt,
    acknowledgedBy: a.acknowledgedBy,
    acknowledgeNote: a.acknowledgeNote,
    resolvedAt: a.resolvedAt,
    resolvedBy: a.resolvedBy,
    resolveNote: a.resolveNote,
  };
}
