import { parseHours } from '../../policy/parse-policy.js';
import type { AlertsPolicy } from '../../policy/policy.js';
import { SYSTEM_ACTOR } from '../../service/system-actions.js';
import type { StoredAuditRecord } from '../../store/records.js';
import { type Detector, type Finding, single } from '../detector.js';
import { localTime } from '../local-time.js';

/** Prefixes of administrative actions: changes to keys, versions, principals, tokens, grants, the system, webhooks, alerts. */
const ADMIN_PREFIXES = ['key.', 'version.', 'principal.', 'token.', 'grant.', 'sys.', 'webhook.', 'alert.', 'policy.'];
/** Administrative-looking actions that only read. */
const READS = new Set(['key.jwks', 'key.usage']);

/** An administrative action that changes (or tries to change) something; Keyward's own scheduled steps excluded. */
export function isAdminAction(r: StoredAuditRecord): boolean {
  if (r.actor === SYSTEM_ACTOR) return false;
  if (!ADMIN_PREFIXES.some((p) => r.action.startsWith(p))) return false;
  return !(READS.has(r.action) || r.action.endsWith('.read') || r.action.endsWith('.list'));
}

/**
 * `off_hours_admin`: an administrative action (allowed or refused) outside
 * the configured working hours and days, in the configured time zone.
 */
export class OffHoursDetector implements Detector<never> {
  readonly name = 'off_hours_admin';
  readonly retainMs = null;
  readonly #config: AlertsPolicy['offHours'];
  readonly #span: [number, number];

  constructor(config: AlertsPolicy['offHours']) {
    this.#config = config;
    this.#span = parseHours(config.hours) ?? [0, 24 * 60];
  }

  subjects(): string[] {
    return [];
  }

  /** Whether `time` falls inside working hours on a working day. */
  inHours(time: string): boolean {
    const local = localTime(new Date(time), this.#config.timezone);
    if (!this.#config.days.includes(local.weekday)) return false;
    const [start, end] = this.#span;
    return start < end ? local.minutes >= start && local.minutes < end : local.minutes >= start || local.minutes < end;
  }

  observe(r: StoredAuditRecord): Finding | null {
    if (!isAdminAction(r) || this.inHours(r.time)) return null;
    const local = localTime(new Date(r.time), this.#config.timezone);
    const who = r.actor === null ? `an unauthenticated caller from ${r.source}` : `'${r.actor}'`;
    return single(r, {
      type: 'off_hours_admin',
      severity: this.#config.severity,
      subject: { namespace: null, key: null, version: null, principal: r.actor, source: r.actor === null ? r.source : null },
      summary: `${who} performed ${r.action} (${r.outcome}) at ${local.text} ${this.#config.timezone}, outside working hours`,
      facts: {
        action: r.action,
        outcome: r.outcome,
        key: r.key,
        localTime: local.text,
        timezone: this.#config.timezone,
        hours: this.#config.hours,
        days: this.#config.days.join(','),
      },
    });
  }
}
