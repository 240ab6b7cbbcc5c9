import { type KeyState, KeywardError, type VersionState } from '@keyward/wire';

/**
 * Allowed version state transitions (NIST SP 800-57 Part 1 §7, KMIP 2.1
 * §3.22 "State"). Anything not listed is refused with 409 invalid_state.
 * The material of a destroyed version is erased; a compromised one keeps it
 * for recovery until it is destroyed too.
 */
export const VERSION_TRANSITIONS: Readonly<Record<VersionState, readonly VersionState[]>> = Object.freeze({
  pre_active: ['active', 'compromised', 'destroyed'],
  active: ['deactivated', 'compromised'],
  deactivated: ['compromised', 'destroyed'],
  compromised: ['destroyed_compromised'],
  destroyed: ['destroyed_compromised'],
  destroyed_compromised: [],
});

/** Allowed key state transitions. There is no instant deletion: destruction only follows a waiting period. */
export const KEY_TRANSITIONS: Readonly<Record<KeyState, readonly KeyState[]>> = Object.freeze({
  enabled: ['disabled', 'pending_deletion'],
  disabled: ['enabled', 'pending_deletion'],
  pending_deletion: ['disabled', 'destroyed'],
  destroyed: [],
});

export function versionMay(from: VersionState, to: VersionState): boolean {
  return VERSION_TRANSITIONS[from].includes(to);
}

export function keyMay(from: KeyState, to: KeyState): boolean {
  return KEY_TRANSITIONS[from].includes(to);
}

/** Throws invalid_state naming the key, the version and both states unless the transition is allowed. */
export function assertVersionTransition(keyName: string, version: number, from: VersionState, to: VersionState): void {
  if (!versionMay(from, to)) {
    throw new KeywardError('invalid_state', `key version ${version} of '${keyName}' is ${from} and cannot become ${to}`);
  }
}

/** Throws invalid_state naming the key and both states unless the transition is allowed. */
export function assertKeyTransition(keyName: string, from: KeyState, to: KeyState): void {
  if (!keyMay(from, to)) throw new KeywardError('invalid_state', `key '${keyName}' is ${from} and cannot become ${to}`);
}
