import type { Weekday } from '../policy/policy.js';

export interface LocalTime {
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
  /** `Mon 03:14` */
  text: string;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, f);
  }
  return f;
}

/**
 * The weekday and time of day of `time` in an IANA time zone, through Intl
 * (so daylight-saving changes follow the zone's rules).
 *
 * @example localTime(new Date('2026-06-01T01:30:00Z'), 'Europe/Berlin') // { weekday: 'mon', minutes: 210, text: 'Mon 03:30' }
 */
export function localTime(time: Date, timeZone: string): LocalTime {
  const parts = Object.fromEntries(
    format(timeZone)
      .formatToParts(time)
      .map((p) => [p.type, p.value]),
  );
  const weekday = String(parts.weekday).toLowerCase().slice(0, 3) as Weekday;
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  return {
    weekday,
    minutes: hour * 60 + minute,
    text: `${parts.weekday} ${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`,
  };
}
