import type { AttestedArchive, AttestedBackup, AttestedBackups, AttestedDrill } from '@keyward/wire';
import type { BackupsPolicy } from '../policy/policy.js';
import type { StoredAuditRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { parseRecipients } from './recipients.js';
import { archives } from './scheduled-backups.js';

const PAGE = 1000;

/**
 * What the audit trail and the backup directory say about backups, for an
 * attestation: the newest `backup.create` or `backup.scheduled` record, and
 * for each archive still in the policy's backup directory whether the
 * recipients its `backup.scheduled` record names are the policy's current
 * recipients, and the restore drill of the last pass when the policy's
 * `backups.verify` ran one. Nothing is decrypted here.
 *
 * @example
 * const facts = await backupFacts(store, policy.current().backups);
 */
export async function backupFacts(store: Store, policy: BackupsPolicy | null): Promise<AttestedBackups> {
  const created = await allRecords(store, 'backup.create');
  const scheduled = await allRecords(store, 'backup.scheduled');
  // A backup whose request was denied never produced an archive; it is not a backup.
  const candidates = [...created, ...scheduled].filter((r) => r.outcome !== 'denied').sort((a, b) => a.seq - b.seq);
  const newest = candidates.at(-1);
  const last = newest === undefined ? null : attestedBackup(newest, await drillOf(store, newest));
  if (policy === null) return { last, currentRecipients: null, retention: null };

  const current = sortedFingerprints(policy.recipients);
  // The newest successful record naming each file (a file name is a time stamp, written once).
  const byFile = new Map<string, string[]>();
  for (const record of scheduled) {
    const file = record.details.file;
    if (record.outcome === 'success' && typeof file === 'string') byFile.set(file, recipientsOf(record));
  }
  const listed: AttestedArchive[] = (await archives(policy.directory)).map(({ name }) => {
    const recipients = byFile.get(name) ?? null;
    return { file: name, recipients, encryptedToCurrentRecipients: recipients !== null && sameSet(recipients, current) };
  });
  const mismatches = listed.filter((a) => !a.encryptedToCurrentRecipients).map((a) => a.file);
  return {
    last,
    currentRecipients: current,
    retention: { directory: policy.directory, archives: listed, allEncryptedToCurrentRecipients: mismatches.length === 0, mismatches },
  };
}

/**
 * The restore drill of a successful scheduled pass: the `backup.verify`
 * record of the same pass (same request id and file), written after it;
 * null when the policy asked for no drill.
 */
async function drillOf(store: Store, record: StoredAuditRecord): Promise<AttestedDrill | null> {
  if (record.action !== 'backup.scheduled' || record.outcome !== 'success') return null;
  const drills = await store.queryAudit({ action: 'backup.verify' }, record.seq, PAGE);
  const drill = drills.find((r) => r.requestId === record.requestId && r.details.file === record.details.file);
  if (drill === undefined) return null;
  const d = drill.details;
  const count = (value: unknown) => (typeof value === 'number' ? value : 0);
  const ran = typeof d.versionsChecked === 'number';
  return {
    method: 'restore-drill',
    result: drill.outcome === 'success' ? 'passed' : 'failed',
    auditSeq: drill.seq,
    knownAnswers: ran
      ? {
          checked: count(d.versionsChecked),
          passed: count(d.versionsPassed),
          failed: count(d.versionsFailed),
          inToken: count(d.versionsInToken),
        }
      : null,
    auditChains: ran ? { valid: d.auditValid === true, chains: count(d.auditChains) } : null,
  };
}

function attestedBackup(record: StoredAuditRecord, drill: AttestedDrill | null): AttestedBackup {
  const { details } = record;
  const action = record.action === 'backup.scheduled' ? 'backup.scheduled' : 'backup.create';
  const outcome = record.outcome === 'success' ? 'success' : 'error';
  let verification: AttestedBackup['verification'];
  if (drill !== null) {
    // The pass was restored and proved with the verification identity: that, not the read-back, is what was verified.
    verification = drill;
  } else if (action === 'backup.create') {
    // Streamed to the client: the server never sees the stored copy, so it verifies nothing.
    verification = { method: 'none', result: 'not-performed' };
  } else if (outcome === 'success') {
    // A successful scheduled pass renames the file into place only after its read-back SHA-256 matched.
    verification = { method: 'read-back', result: details.verified === true ? 'passed' : 'not-performed' };
  } else {
    // A failed pass records no cause (it goes to the server log); the archive, if any, was not kept.
    verification = { method: 'read-back', result: 'failed' };
  }
  return {
    action,
    time: record.time,
    auditSeq: record.seq,
    outcome,
    file: typeof details.file === 'string' ? details.file : null,
    bytes: typeof details.bytes === 'number' ? details.bytes : null,
    recipients: recipientsOf(record),
    verification,
  };
}

function recipientsOf(record: StoredAuditRecord): string[] {
  const value = record.details.recipients;
  return typeof value === 'string' && value !== '' ? value.split(',').sort() : [];
}

function sortedFingerprints(recipients: readonly string[]): string[] {
  return [...parseRecipients(recipients).fingerprints].sort();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

async function allRecords(store: Store, action: string): Promise<StoredAuditRecord[]> {
  const out: StoredAuditRecord[] = [];
  let after = 0;
  for (;;) {
    const page = await store.queryAudit({ action }, after, PAGE);
    out.push(...page);
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) return out;
    after = last.seq;
  }
}
