import type { AlertsPolicy } from '../../policy/policy.js';
import type { StoredAuditRecord, VersionRecord } from '../../store/records.js';
import { type Detector, type Finding, isCrypto, type KeyLookup, single } from '../detector.js';

type VersionedCrypto = StoredAuditRecord & { namespace: string; key: string; keyVersion: number };

/**
 * A cryptographic operation that named a version, whatever its outcome:
 * successful uses, recovery decryptions and attempts refused for the
 * version's state all count. Fetching a public key is not a use.
 */
const isVersionedCrypto = (r: StoredAuditRecord): r is VersionedCrypto =>
  isCrypto(r) && r.action !== 'crypto.public-key' && r.namespace !== null && r.key !== null && r.keyVersion !== null;

/** What the version was when the record was written: judged by its transition times, not by its state now. */
function stateAt(version: VersionRecord, time: string): 'compromised' | 'deactivated' | null {
  const at = Date.parse(time);
  if (version.compromisedAt !== null && Date.parse(version.compromisedAt) <= at) return 'compromised';
  if (version.deactivatedAt !== null && Date.parse(version.deactivatedAt) <= at) return 'deactivated';
  return null;
}

/**
 * `compromised_version_use` and `deactivated_version_use`: a key version
 * used (or tried) after it was declared compromised, or after it was
 * deactivated. One detector for both; each type can be disabled on its own.
 */
export class VersionUseDetector implements Detector<never> {
  readonly name = 'version_use';
  readonly retainMs = null;
  readonly #compromised: AlertsPolicy['compromisedVersionUse'];
  readonly #deactivated: AlertsPolicy['deactivatedVersionUse'];

  constructor(compromised: AlertsPolicy['compromisedVersionUse'], deactivated: AlertsPolicy['deactivatedVersionUse']) {
    this.#compromised = compromised;
    this.#deactivated = deactivated;
  }

  subjects(): string[] {
    return [];
  }

  needsVersions(r: StoredAuditRecord): boolean {
    return isVersionedCrypto(r);
  }

  observe(r: StoredAuditRecord, _state: unknown, keys: KeyLookup): Finding | null {
    if (!isVersionedCrypto(r)) return null;
    const version = keys.versions(r.namespace, r.key)?.find((v) => v.version === r.keyVersion);
    if (version === undefined) return null;
    const state = stateAt(version, r.time);
    if (state === null) return null;
    const config = state === 'compromised' ? this.#compromised : this.#deactivated;
    if (!config.enabled) return null;
    const operation = r.action.slice('crypto.'.length);
    const recovery = r.details.recovery === true && r.outcome === 'success';
    const who = r.actor === null ? `a caller from ${r.source}` : `'${r.actor}'`;
    const what =
      r.outcome === 'success' ? (recovery ? `recovered data with (${operation})` : `used (${operation})`) : `tried to ${operation} with`;
    return single(r, {
      type: state === 'compromised' ? 'compromised_version_use' : 'deactivated_version_use',
      severity: config.severity,
      subject: {
        namespace: r.namespace,
        key: r.key,
        version: r.keyVersion,
        principal: r.actor,
        source: r.actor === null ? r.source : null,
      },
      summary: `${who} ${what} ${state} version ${r.keyVersion} of key '${r.key}' (namespace '${r.namespace}')`,
      facts: {
        operation,
        outcome: r.outcome,
        errorCode: r.errorCode,
        recovery,
        versionState: version.state,
        [state === 'compromised' ? 'compromisedAt' : 'deactivatedAt']:
          state === 'compromised' ? version.compromisedAt : version.deactivatedAt,
      },
    });
  }
}
