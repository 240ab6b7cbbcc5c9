import type { AlertsPolicy } from '../../policy/policy.js';
import type { StoredAuditRecord } from '../../store/records.js';
import { type Detector, type Finding, keySubject, type StateMap } from '../detector.js';
import { type BurstState, SlidingWindow } from './burst.js';

const isRefusedCiphertext = (r: StoredAuditRecord): r is StoredAuditRecord & { namespace: string; key: string } =>
  r.errorCode === 'invalid_ciphertext' && r.namespace !== null && r.key !== null;

/**
 * `invalid_ciphertext_burst`: many decryptions (or rewraps) of one key
 * refused as invalid ciphertext within a window: ciphertexts tampered with,
 * truncated, replayed under the wrong context, or someone probing the key.
 */
export class InvalidCiphertextDetector implements Detector<BurstState> {
  readonly name = 'invalid_ciphertext_burst';
  readonly retainMs: number;
  readonly #config: AlertsPolicy['invalidCiphertext'];
  readonly #window: SlidingWindow;

  constructor(config: AlertsPolicy['invalidCiphertext']) {
    this.#config = config;
    this.#window = new SlidingWindow('alerts.invalidCiphertext.window', config.window, config.threshold);
    this.retainMs = this.#window.windowMs;
  }

  subjects(r: StoredAuditRecord): string[] {
    return isRefusedCiphertext(r) ? [keySubject(r.namespace, r.key)] : [];
  }

  observe(r: StoredAuditRecord, state: StateMap<BurstState>): Finding | null {
    if (!isRefusedCiphertext(r)) return null;
    const subject = keySubject(r.namespace, r.key);
    const result = this.#window.add(state.get(subject), r);
    state.set(subject, result.state);
    if (!result.burst) return null;
    const records = result.started ? result.state.r : result.state.r.slice(-1);
    const actors = [...new Set(result.state.r.map((x) => x.actor ?? '(none)'))];
    const sources = [...new Set(result.state.r.map((x) => x.source))];
    return {
      type: 'invalid_ciphertext_burst',
      severity: this.#config.severity,
      subject: { namespace: r.namespace, key: r.key, version: null, principal: null, source: null },
      summary: `${result.inWindow} or more ciphertexts for key '${r.key}' (namespace '${r.namespace}') were refused as invalid within ${this.#config.window}`,
      facts: {
        inWindow: result.inWindow,
        threshold: this.#config.threshold,
        window: this.#config.window,
        principals: actors.join(','),
        sources: sources.join(','),
      },
      records,
      occurrences: result.started ? result.inWindow : 1,
      firstSeen: records[0]?.time ?? r.time,
      lastSeen: r.time,
    };
  }
}
