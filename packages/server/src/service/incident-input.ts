import { type IncidentFollowUp, KeywardError } from '@keyward/wire';
import type { IncidentCursor } from '../store/incident-records.js';

/** Checks of incident input the request schemas cannot express. */

export function encodeCursor(c: IncidentCursor): string {
  return Buffer.from(`${c.declaredAt}|${c.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(text: string): IncidentCursor {
  const [declaredAt, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (declaredAt === undefined || id === undefined || rest.length > 0 || encodeCursor({ declaredAt, id }) !== text) {
    throw new KeywardError('invalid_request', 'cursor: not a cursor this server issued');
  }
  return { declaredAt, id };
}

/** A due date: a calendar date (`2026-07-01`) or an RFC 3339 time on a real calendar day. */
export function checkDue(followUps: readonly IncidentFollowUp[]): void {
  followUps.forEach((f, i) => {
    if (f.due === undefined) return;
    const date = f.due.slice(0, 10);
    const parsed = new Date(`${date}T00:00:00Z`);
    const valid = !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date && !Number.isNaN(Date.parse(f.due));
    if (!valid) throw new KeywardError('invalid_request', `followUps[${i}].due: not a valid date or RFC 3339 time`);
  });
}
