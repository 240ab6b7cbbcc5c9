import type { BlastRadiusDenial, BlastRadiusReport, BlastRadiusUse, IncidentRecovery } from '@keyward/wire';
import type { IncidentRecord, RecoveryCounts, VersionActivityRow } from '../store/incident-records.js';
import type { KeyRecord, VersionRecord } from '../store/records.js';
import type { StoreOps } from '../store/store.js';

/** An operation as the blast radius names it: a rewrap that read the version and wrote another is `rewrap-from`. */
const operationOf = (row: VersionActivityRow): string => (row.direction === 'from' ? 'rewrap-from' : row.operation);

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Merges rows into uses per principal, source and operation (rows differ also by direction and error). */
function uses(rows: readonly VersionActivityRow[]): BlastRadiusUse[] {
  const merged = new Map<string, BlastRadiusUse>();
  for (const row of rows) {
    const principal = row.actor ?? '-';
    const operation = operationOf(row);
    const id = `${principal}\0${row.source}\0${operation}`;
    const use = merged.get(id);
    if (use === undefined) {
      merged.set(id, { principal, source: row.source, operation, count: row.count, firstAt: row.firstAt, lastAt: row.lastAt });
      continue;
    }
    use.count += row.count;
    if (row.firstAt < use.firstAt) use.firstAt = row.firstAt;
    if (row.lastAt > use.lastAt) use.lastAt = row.lastAt;
  }
  return [...merged.values()].sort(
    (a, b) => byText(a.principal, b.principal) || byText(a.source, b.source) || byText(a.operation, b.operation),
  );
}

function denials(rows: readonly VersionActivityRow[]): BlastRadiusDenial[] {
  return rows
    .map((r) => ({
      principal: r.actor,
      source: r.source,
      operation: r.operation,
      errorCode: r.errorCode ?? r.outcome,
      count: r.count,
      firstAt: r.firstAt,
      lastAt: r.lastAt,
    }))
    .sort(
      (a, b) =>
        byText(a.principal ?? '', b.principal ?? '') ||
        byText(a.source, b.source) ||
        byText(a.operation, b.operation) ||
        byText(a.errorCode, b.errorCode),
    );
}

const issuedWith = (rows: readonly VersionActivityRow[], operations: readonly string[]): number =>
  rows
    .filter((r) => r.outcome === 'success' && r.direction === 'to' && operations.includes(r.operation))
    .reduce((sum, r) => sum + r.count, 0);

/** The audit records of the incident's key version, counted from the key's creation, split at the declaration. */
export function versionActivity(tx: StoreOps, incident: IncidentRecord, keyCreatedAt: string): Promise<VersionActivityRow[]> {
  return tx.versionActivity({
    namespace: incident.namespace,
    keyName: incident.keyName,
    version: incident.version,
    from: keyCreatedAt,
    boundary: incident.declaredAt,
  });
}

/**
 * Who used the version, from where and for what while it was trusted
 * (before the declaration), what was issued under it, and what happened
 * after containment (recovery reads allowed by policy, attempts refused).
 */
export function blastRadius(
  incident: IncidentRecord,
  keyCreatedAt: string,
  rows: readonly VersionActivityRow[],
  now: Date,
): BlastRadiusReport {
  const success = rows.filter((r) => r.outcome === 'success');
  const before = uses(success.filter((r) => r.phase === 'before'));
  const byOperation: Record<string, number> = {};
  for (const use of before) byOperation[use.operation] = (byOperation[use.operation] ?? 0) + use.count;
  const firstUseAt = before.reduce<string | null>((first, u) => (first === null || u.firstAt < first ? u.firstAt : first), null);
  const lastUseAt = before.reduce<string | null>((last, u) => (last === null || u.lastAt > last ? u.lastAt : last), null);
  return {
    incident: incident.id,
    namespace: incident.namespace,
    key: incident.keyName,
    keyId: incident.keyId,
    version: incident.version,
    from: keyCreatedAt,
    declaredAt: incident.declaredAt,
    generatedAt: now.toISOString(),
    principals: [...new Set(before.map((u) => u.principal))].sort(byText),
    sources: [...new Set(before.map((u) => u.source))].sort(byText),
    firstUseAt,
    lastUseAt,
    byOperation: Object.fromEntries(Object.entries(byOperation).sort(([a], [b]) => byText(a, b))),
    uses: before,
    issued: {
      ciphertexts: issuedWith(rows, ['encrypt', 'rewrap']),
      dataKeys: issuedWith(rows, ['data-key']),
      signatures: issuedWith(rows, ['sign']),
      macs: issuedWith(rows, ['mac']),
    },
    afterContainment: {
      uses: uses(success.filter((r) => r.phase === 'after')),
      denied: denials(rows.filter((r) => r.outcome !== 'success' && r.phase === 'after')),
    },
  };
}

/** Ciphertexts and data keys issued under the version, and rewraps that moved ciphertexts away from it. */
export function recoveryCounts(rows: readonly VersionActivityRow[]): RecoveryCounts {
  const rewrapped = (phase: 'before' | 'after') =>
    rows.filter((r) => r.outcome === 'success' && r.direction === 'from' && r.phase === phase).reduce((sum, r) => sum + r.count, 0);
  return {
    ciphertextsIssued: issuedWith(rows, ['encrypt', 'rewrap']),
    dataKeysIssued: issuedWith(rows, ['data-key']),
    rewrappedBeforeIncident: rewrapped('before'),
    rewrappedSinceIncident: rewrapped('after'),
  };
}

/**
 * Whether the version can no longer decrypt anything: it is destroyed (or
 * the whole key is), or the key's minimum decryption version is above it.
 */
export function versionRetired(incident: IncidentRecord, key: KeyRecord | null, version: VersionRecord | undefined): boolean {
  if (key === null || key.state === 'destroyed') return true;
  if (key.minDecryptionVersion > incident.version) return true;
  return version === undefined || version.state === 'destroyed' || version.state === 'destroyed_compromised';
}

export function recoveryView(incident: IncidentRecord, counts: RecoveryCounts | null, retired: boolean): IncidentRecovery {
  const c = counts ?? { ciphertextsIssued: 0, dataKeysIssued: 0, rewrappedBeforeIncident: 0, rewrappedSinceIncident: 0 };
  const remaining = Math.max(0, c.ciphertextsIssued + c.dataKeysIssued - c.rewrappedBeforeIncident - c.rewrappedSinceIncident);
  return {
    ...c,
    remaining,
    complete: counts !== null && (remaining === 0 || retired),
    waived: incident.recoveryWaiver,
    raiseMinDecryptionVersionAfter: incident.raiseMinAfter,
    raiseMinDecryptionVersionAt: incident.raiseMinAt,
    minDecryptionVersionRaisedAt: incident.minRaisedAt,
  };
}
