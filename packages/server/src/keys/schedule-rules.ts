import type { KeyRecord, VersionRecord } from '../store/records.js';
import { parseDuration } from './duration.js';

/** The next thing the scheduler must do to a key, decided from plain data and the time. */
export type DueStep =
  | { kind: 'destroy-key' }
  | { kind: 'activate'; version: VersionRecord }
  | { kind: 'prepublish'; activateAt: Date }
  | { kind: 'rotate' }
  | { kind: 'deactivate'; version: VersionRecord };

const at = (time: string | null): number => (time === null ? Number.POSITIVE_INFINITY : new Date(time).getTime());

/**
 * Decides the most urgent due step for a key at `now`, or null when nothing
 * is due. Pure, so every rule is tested without a store. Order: destruction,
 * activation of a prepublished version, prepublication, rotation by time,
 * then the end of a version's originator-usage period (NIST SP 800-57 §5.3).
 */
export function dueStep(key: KeyRecord, versions: readonly VersionRecord[], now: Date): DueStep | null {
  const t = now.getTime();
  if (key.state === 'destroyed') return null;
  if (key.state === 'pending_deletion') return at(key.deletionDate) <= t ? { kind: 'destroy-key' } : null;

  const waiting = versions.find((v) => v.state === 'pre_active');
  if (waiting !== undefined && at(waiting.activateAt) <= t) return { kind: 'activate', version: waiting };

  if (key.state === 'enabled' && key.nextRotationAt !== null && waiting === undefined) {
    const due = at(key.nextRotationAt);
    if (due <= t) return { kind: 'rotate' };
    if (key.prepublishPeriod !== null && due - parseDuration('prepublishPeriod', key.prepublishPeriod) <= t) {
      return { kind: 'prepublish', activateAt: new Date(due) };
    }
  }

  if (key.originatorPeriod !== null) {
    const period = parseDuration('originatorPeriod', key.originatorPeriod);
    const expired = versions.filter((v) => v.state === 'active' && at(v.activatedAt) + period <= t);
    const old = expired.find((v) => v.version !== key.primaryVersion);
    if (old !== undefined) return { kind: 'deactivate', version: old };
    if (expired.length > 0 && (key.state === 'enabled' || key.state === 'disabled')) return { kind: 'rotate' };
  }
  return null;
}

/**
 * The earliest time at which {@link dueStep} can return a step for this key
 * (if nothing changes meanwhile), or null when it never will. Stored on the
 * key so the scheduler reads only keys that are due, through an index.
 */
export function nextCheckAt(
  key: KeyRecord,
  versions: ReadonlyArray<Pick<VersionRecord, 'state' | 'activatedAt' | 'activateAt'>>,
): string | null {
  if (key.state === 'destroyed') return null;
  if (key.state === 'pending_deletion') return key.deletionDate;
  const times: number[] = [];
  const waiting = versions.find((v) => v.state === 'pre_active');
  if (waiting !== undefined) times.push(at(waiting.activateAt));
  if (key.state === 'enabled' && key.nextRotationAt !== null && waiting === undefined) {
    const due = at(key.nextRotationAt);
    times.push(due);
    if (key.prepublishPeriod !== null) times.push(due - parseDuration('prepublishPeriod', key.prepublishPeriod));
  }
  if (key.originatorPeriod !== null) {
    const period = parseDuration('originatorPeriod', key.originatorPeriod);
    for (const v of versions) if (v.state === 'active') times.push(at(v.activatedAt) + period);
  }
  const earliest = Math.min(...times.filter(Number.isFinite));
  return Number.isFinite(earliest) ? new Date(earliest).toISOString() : null;
}
