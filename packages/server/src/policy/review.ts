import { addMs, parseDuration } from '../keys/duration.js';
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
    interval === null
      ? null
      : addMs(new Date(key.lastReviewedAt ?? key.createdAt), parseDuration('reviewInterval', interval)).toISOString();
  if (byCalendar === null) return key.reviewDueAt;
  if (key.reviewDueAt === null) return byCalendar;
  return key.reviewDueAt < byCalendar ? key.reviewDueAt : byCalendar;
}
