import { KeywardError } from '@keyward/wire';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
const PATTERN = /^([1-9][0-9]{0,5})([dhms])$/;

/**
 * Parses an API duration (`90d`, `12h`, `30m`, `45s`) into milliseconds.
 * Throws invalid_request naming `field` otherwise.
 *
 * @example parseDuration('rotationPeriod', '90d') // 7_776_000_000
 */
export function parseDuration(field: string, value: string): number {
  const match = PATTERN.exec(value);
  if (!match) throw new KeywardError('invalid_request', `${field}: must be a duration such as 90d, 12h, 30m or 45s`);
  const unit = match[2] as keyof typeof UNIT_MS;
  return Number(match[1]) * UNIT_MS[unit];
}

/** Adds a duration in milliseconds to an RFC 3339 time. */
export function addMs(time: Date, ms: number): Date {
  return new Date(time.getTime() + ms);
}
