import type { AlertsPolicy } from '../../policy/policy.js';
import type { StoredAuditRecord } from '../../store/records.js';
import { type Detector, type Finding, isCrypto, pairSubject, type StateMap, single } from '../detector.js';

interface Seen {
  /** When the pair was first seen. */
  at: string;
}

/** A successful cryptographic operation by a named principal on a key: a use. */
export const isUse = (r: StoredAuditRecord): r is StoredAuditRecord & { actor: string; namespace: string; key: string } =>
  isCrypto(r) && r.outcome === 'success' && r.actor !== null && r.namespace !== null && r.key !== null;

/**
 * `first_use`: a principal used a key it had never used before. Expected
 * after a deployment or a new grant; unexpected otherwise (a stolen token
 * trying what it can reach). Every pair ever seen is remembered.
 */
export class FirstUseDetector implements Detector<Seen> {
  readonly name = 'first_use';
  readonly retainMs = null;
  readonly #config: AlertsPolicy['firstUse'];

  constructor(config: AlertsPolicy['firstUse']) {
    this.#config = config;
  }

  subjects(r: StoredAuditRecord): string[] {
    return isUse(r) ? [pairSubject(r.actor, r.namespace, r.key)] : [];
  }

  observe(r: StoredAuditRecord, state: StateMap<Seen>): Finding | null {
    if (!isUse(r)) return null;
    const subject = pairSubject(r.actor, r.namespace, r.key);
    if (state.get(subject) !== undefined) return null;
    state.set(subject, { at: r.time });
    return single(r, {
      type: 'first_use',
      severity: this.#config.severity,
      subject: { namespace: r.namespace, key: r.key, version: null, principal: r.actor, source: null },
      summary: `'${r.actor}' used key '${r.key}' (namespace '${r.namespace}') for the first time (${r.action.slice('crypto.'.length)})`,
      facts: { operation: r.action.slice('crypto.'.length), source: r.source, keyVersion: r.keyVersion },
    });
  }
}
