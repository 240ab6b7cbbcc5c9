import type { AlertsPolicy } from '../../policy/policy.js';
import type { StoredAuditRecord } from '../../store/records.js';
import type { Detector, Finding, StateMap } from '../detector.js';
import { type BurstState, SlidingWindow } from './burst.js';

/**
 * A request refused for its credential: `unauthenticated` (no, unknown,
 * expired or revoked token) or `rate_limited` before any principal was
 * known (the source was already over its failed-authentication brake).
 */
const isAuthFailure = (r: StoredAuditRecord): boolean =>
  r.actor === null && (r.errorCode === 'unauthenticated' || (r.errorCode === 'rate_limited' && r.action !== 'request.refused'));

/**
 * `auth_failure_burst`: many failed authentications from one source address
 * within a window: credential guessing, or a client still using a revoked
 * or expired token.
 */
export class AuthFailureDetector implements Detector<BurstState> {
  readonly name = 'auth_failure_burst';
  readonly retainMs: number;
  readonly #config: AlertsPolicy['authFailures'];
  readonly #window: SlidingWindow;

  constructor(config: AlertsPolicy['authFailures']) {
    this.#config = config;
    this.#window = new SlidingWindow('alerts.authFailures.window', config.window, config.threshold);
    this.retainMs = this.#window.windowMs;
  }

  subjects(r: StoredAuditRecord): string[] {
    return isAuthFailure(r) ? [r.source] : [];
  }

  observe(r: StoredAuditRecord, state: StateMap<BurstState>): Finding | null {
    if (!isAuthFailure(r)) return null;
    const result = this.#window.add(state.get(r.source), r);
    state.set(r.source, result.state);
    if (!result.burst) return null;
    const records = result.started ? result.state.r : result.state.r.slice(-1);
    return {
      type: 'auth_failure_burst',
      severity: this.#config.severity,
      subject: { namespace: null, key: null, version: null, principal: null, source: r.source },
      summary: `${result.inWindow} or more failed authentications from ${r.source} within ${this.#config.window}`,
      facts: { inWindow: result.inWindow, threshold: this.#config.threshold, window: this.#config.window },
      records,
      occurrences: result.started ? result.inWindow : 1,
      firstSeen: records[0]?.time ?? r.time,
      lastSeen: r.time,
    };
  }
}
