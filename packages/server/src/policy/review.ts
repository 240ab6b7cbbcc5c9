import { parseDuration } from '../keys/duration.js';
import type { KeyRecord } from '../store/records.js';
import type { Policy } from './policy.js';

/**
 * When a key's next review is due (docs/governance.md, "Owners and
 * reviews"): its class's `reviewInterval` after the last review (or after
 * creation, if never reviewed), or earlier when an event asked for one
 * (`reviewDueAt`, set when its owner was offboarded). Null when neither
 * applies. Computed from the policy in force, so a changed interval applies
 * to every key at once.
 */
export function nextReviewAt(
  key: Pick<KeyRecord, 'class' | 'createdAt' | 'lastReviewedAt' | 'reviewDueAt'>,
  policy: Policy,
): string | null {
  const interval = policy.classes[key.class].reviewInterval;
  const byCalendar =
    interval === null ? null : new Date(Date.parse(key.lastReviewedAt ?? key.createdAt) + intervalMs(interval)).toISOString();
  if (byCalendar === null) return key.reviewDueAt;
  if (key.reviewDueAt === null) return byCalendar;
  // RFC 3339 UTC times order as strings: the earlier of the two.
  return [key.reviewDueAt, byCalendar].sort()[0] ?? byCalendar;
}

/** Review intervals in milliseconds by their text: a page of keys asks for the same few (one per class) a hundred times. */
const INTERVALS = new Map<string, number>();

function intervalMs(interval: string): number {
  let ms = INTERVALS.get(interval);
  if (ms === undefined) {
    ms = parseDuration('reviewInterval', interval);
    // Policy files can change while the server runs; the map only grows with distinct valid durations.
    if (INTERVALS.size < 1024) INTERVALS.set(interval, ms);
  }
  return ms;
}
