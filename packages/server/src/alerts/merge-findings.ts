import { randomUUID } from 'node:crypto';
import { ALERT_SEVERITIES, type AlertSubject, type AlertType } from '@keyward/wire';
import type { AlertRecord } from '../store/alert-records.js';
import type { Finding } from './detector.js';
import { nextSteps } from './next-steps.js';

/** Evidence records an alert keeps (the most recent ones). */
export const MAX_EVIDENCE_RECORDS = 20;

/** The string that identifies "the same alert": its type and its whole subject. */
export function dedupKey(type: AlertType, s: AlertSubject): string {
  return JSON.stringify([type, s.namespace, s.key, s.version, s.principal, s.source]);
}

const higher = <T extends (typeof ALERT_SEVERITIES)[number]>(a: T, b: T): T =>
  ALERT_SEVERITIES.indexOf(a) >= ALERT_SEVERITIES.indexOf(b) ? a : b;

/** The earlier and the later of two RFC 3339 UTC times as `toISOString()` writes them (they sort as text). */
const earliest = (a: string, b: string): string => [a, b].sort()[0] as string;
const latest = (a: string, b: string): string => [a, b].sort()[1] as string;

/** Findings of one run with the same dedup key folded into one, in record order. */
export function foldFindings(findings: readonly Finding[]): Map<string, Finding> {
  const folded = new Map<string, Finding>();
  for (const f of findings) {
    const key = dedupKey(f.type, f.subject);
    const prior = folded.get(key);
    folded.set(key, prior === undefined ? f : combine(prior, f));
  }
  return folded;
}

function combine(prior: Finding, next: Finding): Finding {
  return {
    ...next,
    severity: higher(prior.severity, next.severity),
    facts: { ...prior.facts, ...next.facts },
    records: [...prior.records, ...next.records].slice(-MAX_EVIDENCE_RECORDS),
    occurrences: prior.occurrences + next.occurrences,
    firstSeen: earliest(prior.firstSeen, next.firstSeen),
    lastSeen: latest(prior.lastSeen, next.lastSeen),
  };
}

/** A new open alert from a finding. */
export function raise(f: Finding, now: Date): AlertRecord {
  const at = now.toISOString();
  return {
    id: randomUUID(),
    type: f.type,
    severity: f.severity,
    state: 'open',
    dedupKey: dedupKey(f.type, f.subject),
    subject: f.subject,
    summary: f.summary,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    count: f.occurrences,
    evidence: { facts: f.facts, records: f.records.slice(-MAX_EVIDENCE_RECORDS) },
    nextSteps: nextSteps(f.type, f.subject),
    raisedAt: at,
    updatedAt: at,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgeNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
  };
}

/** An unresolved alert with a new finding of the same type and subject added: counted, not duplicated. Its state is kept. */
export function update(alert: AlertRecord, f: Finding, now: Date): AlertRecord {
  const seen = new Set(alert.evidence.records.map((r) => `${r.chain}\0${r.chainSeq}`));
  const fresh = f.records.filter((r) => !seen.has(`${r.chain}\0${r.chainSeq}`));
  return {
    ...alert,
    severity: higher(alert.severity, f.severity),
    summary: f.summary,
    firstSeen: earliest(alert.firstSeen, f.firstSeen),
    lastSeen: latest(alert.lastSeen, f.lastSeen),
    count: alert.count + f.occurrences,
    evidence: {
      facts: { ...alert.evidence.facts, ...f.facts },
      records: [...alert.evidence.records, ...fresh].slice(-MAX_EVIDENCE_RECORDS),
    },
    updatedAt: now.toISOString(),
  };
}
