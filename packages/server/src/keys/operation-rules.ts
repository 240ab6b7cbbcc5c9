import { type KeyOperation, type KeyState, KeywardError, type VersionState } from '@keyward/wire';
import type { KeyRecord, VersionRecord } from '../store/records.js';

/**
 * Whether an operation produces new protected output (and so needs the
 * primary, active version) or only consumes old output (decrypt, verify).
 * NIST SP 800-57 Part 1 §5.3: originator-usage vs recipient-usage periods.
 */
export type OperationRole = 'originate' | 'consume' | 'publish';

export const OPERATION_ROLE: Readonly<Record<KeyOperation, OperationRole>> = Object.freeze({
  encrypt: 'originate',
  'data-key': 'originate',
  sign: 'originate',
  mac: 'originate',
  rewrap: 'originate',
  decrypt: 'consume',
  verify: 'consume',
  'verify-mac': 'consume',
  'public-key': 'publish',
});

/** Version states in which each role is allowed (the operation matrix of docs/lifecycle.md). */
const VERSION_ALLOWS: Readonly<Record<OperationRole, readonly VersionState[]>> = Object.freeze({
  originate: ['active'],
  consume: ['active', 'deactivated'],
  publish: ['pre_active', 'active', 'deactivated', 'compromised'],
});

const KEY_ALLOWS: readonly KeyState[] = ['enabled'];

/** Throws invalid_state unless the key's state allows any cryptographic operation. */
export function assertKeyUsable(key: KeyRecord): void {
  if (!KEY_ALLOWS.includes(key.state)) {
    throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot be used`);
  }
}

/**
 * Throws invalid_state unless `version` may perform `operation`. A
 * compromised version still decrypts and verifies, but only for a caller
 * allowed to recover data (`recovery`), so data can be rescued and re-encrypted.
 */
export function assertVersionAllows(key: KeyRecord, version: VersionRecord, operation: KeyOperation, recovery = false): void {
  const role = OPERATION_ROLE[operation];
  if (role === 'consume' && version.version < key.minDecryptionVersion) {
    throw new KeywardError(
      'invalid_state',
      `key version ${version.version} of '${key.name}' is below the minimum decryption version ${key.minDecryptionVersion} and cannot ${operation}`,
    );
  }
  if (role === 'consume' && version.state === 'compromised') {
    if (recovery) return;
    throw new KeywardError(
      'invalid_state',
      `key version ${version.version} of '${key.name}' is compromised; only a principal allowed to recover data may ${operation} with it`,
    );
  }
  if (!VERSION_ALLOWS[role].includes(version.state)) {
    throw new KeywardError(
      'invalid_state',
      `key version ${version.version} of '${key.name}' is ${version.state} and cannot ${operation === 'data-key' ? 'issue data keys' : operation}`,
    );
  }
}

export function versionAllows(key: KeyRecord, version: VersionRecord, operation: KeyOperation): boolean {
  const role = OPERATION_ROLE[operation];
  if (role === 'consume' && version.version < key.minDecryptionVersion) return false;
  return VERSION_ALLOWS[role].includes(version.state);
}
