import type { AlertEvidenceRecord, AlertSeverity, AlertSubject, AlertType } from '@keyward/wire';
import type { StoredAuditRecord, VersionRecord } from '../store/records.js';

export type Fact = string | number | boolean | null;

/** What a detector concluded from one audit record: raise the alert of this type and subject, or add to the open one. */
export interface Finding {
  type: AlertType;
  severity: AlertSeverity;
  subject: AlertSubject;
  /** One sentence for the alert's summary (the latest finding's wins). */
  summary: string;
  /** The numbers behind the decision (merged into the alert's evidence, latest wins). */
  facts: Record<string, Fact>;
  /** The audit records behind it, oldest first (the triggering one last). */
  records: AlertEvidenceRecord[];
  /** How much this adds to the alert's `count` (a burst's first finding counts every record in its window). */
  occurrences: number;
  /** Time of the earliest and the latest record behind it. */
  firstSeen: string;
  lastSeen: string;
}

/**
 * One detector's remembered state, subject by subject, as loaded for this
 * run. Writes are kept in memory and stored by the engine in one
 * transaction with the run's alerts and cursors.
 */
export class StateMap<T> {
  readonly #values: Map<string, T>;
  readonly #dirty = new Set<string>();

  constructor(loaded: ReadonlyMap<string, string> = new Map()) {
    this.#values = new Map([...loaded].map(([subject, json]) => [subject, JSON.parse(json) as T]));
  }

  get(subject: string): T | undefined {
    return this.#values.get(subject);
  }

  set(subject: string, value: T): void {
    this.#values.set(subject, value);
    this.#dirty.add(subject);
  }

  delete(subject: string): void {
    if (this.#values.delete(subject)) this.#dirty.add(subject);
  }

  /** The subjects written since loading, as rows to store (null state: delete). */
  changes(): Array<{ subject: string; state: string | null }> {
    return [...this.#dirty].map((subject) => {
      const value = this.#values.get(subject);
      return { subject, state: value === undefined ? null : JSON.stringify(value) };
    });
  }
}

/** A key's versions as they stood, for detectors that judge a use by the version's state at the time. */
export interface KeyLookup {
  versions(namespace: string, key: string): readonly VersionRecord[] | null;
}

/**
 * A detector: a pure judgement over audit records, oldest first. It names
 * the state subjects a record needs (`subjects`) so the engine can load them
 * all in one query, then `observe`s the record against that state.
 */
export interface Detector<T = unknown> {
  /** Names its rows in the detector state table. */
  readonly name: string;
  /** State rows idle this long are dropped (their subjects start afresh); null keeps them. */
  readonly retainMs: number | null;
  /** The state subjects `observe` needs for this record; empty when the record does not concern it. */
  subjects(record: StoredAuditRecord): string[];
  /** Whether this detector needs the versions of the record's key (see {@link KeyLookup}). */
  needsVersions?(record: StoredAuditRecord): boolean;
  observe(record: StoredAuditRecord, state: StateMap<T>, keys: KeyLookup): Finding | null;
}

/** The audit-trail reference of a record, as alert evidence shows it. */
export function evidenceOf(r: StoredAuditRecord): AlertEvidenceRecord {
  return {
    chain: r.chain,
    chainSeq: r.chainSeq,
    seq: r.seq,
    time: r.time,
    action: r.action,
    actor: r.actor,
    source: r.source,
    outcome: r.outcome,
    errorCode: r.errorCode,
    requestId: r.requestId,
  };
}

export const NO_SUBJECT: AlertSubject = Object.freeze({ namespace: null, key: null, version: null, principal: null, source: null });

export const isCrypto = (r: StoredAuditRecord): boolean => r.action.startsWith('crypto.');

/** The subject string of a (principal, key) pair (JSON: unambiguous, and storable as text by both dialects). */
export const pairSubject = (principal: string, namespace: string, key: string): string => JSON.stringify([principal, namespace, key]);

/** The subject string of a key. */
export const keySubject = (namespace: string, key: string): string => JSON.stringify([namespace, key]);

/** A finding from a single record. */
export function single(record: StoredAuditRecord, fields: Pick<Finding, 'type' | 'severity' | 'subject' | 'summary' | 'facts'>): Finding {
  return { ...fields, records: [evidenceOf(record)], occurrences: 1, firstSeen: record.time, lastSeen: record.time };
}
