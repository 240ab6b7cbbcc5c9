import { KEY_STATES, KeywardError, VERSION_STATES } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { assertKeyTransition, assertVersionTransition, KEY_TRANSITIONS, VERSION_TRANSITIONS } from '../../src/keys/transitions.js';

const ALLOWED_VERSION: ReadonlyArray<[string, string]> = [
  ['pre_active', 'active'],
  ['pre_active', 'compromised'],
  ['pre_active', 'destroyed'],
  ['active', 'deactivated'],
  ['active', 'compromised'],
  ['deactivated', 'compromised'],
  ['deactivated', 'destroyed'],
  ['compromised', 'destroyed_compromised'],
  ['destroyed', 'destroyed_compromised'],
];
const ALLOWED_KEY: ReadonlyArray<[string, string]> = [
  ['enabled', 'disabled'],
  ['enabled', 'pending_deletion'],
  ['disabled', 'enabled'],
  ['disabled', 'pending_deletion'],
  ['pending_deletion', 'disabled'],
  ['pending_deletion', 'destroyed'],
];

describe('version state transitions (NIST SP 800-57, KMIP)', () => {
  it('the table is exactly the allowed list', () => {
    const table = Object.entries(VERSION_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}→${to}`));
    expect(table.sort()).toEqual(ALLOWED_VERSION.map(([f, t]) => `${f}→${t}`).sort());
  });
  for (const from of VERSION_STATES) {
    for (const to of VERSION_STATES) {
      const allowed = ALLOWED_VERSION.some(([f, t]) => f === from && t === to);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused with invalid_state'}`, () => {
        const act = () => assertVersionTransition('k', 3, from, to);
        if (allowed) expect(act).not.toThrow();
        else {
          expect(act).toThrow(KeywardError);
          expect(act).toThrow(`key version 3 of 'k' is ${from} and cannot become ${to}`);
        }
      });
    }
  }
});

describe('key state transitions', () => {
  for (const from of KEY_STATES) {
    for (const to of KEY_STATES) {
      const allowed = ALLOWED_KEY.some(([f, t]) => f === from && t === to);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused with invalid_state'}`, () => {
        const act = () => assertKeyTransition('k', from, to);
        if (allowed) expect(act).not.toThrow();
        else {
          try {
            act();
            expect.unreachable();
          } catch (error) {
            expect((error as KeywardError).code).toBe('invalid_state');
            expect((error as KeywardError).message).toBe(`key 'k' is ${from} and cannot become ${to}`);
          }
        }
      });
    }
  }
  it('there is no instant deletion: destroyed is reachable only from pending_deletion', () => {
    const into = Object.entries(KEY_TRANSITIONS)
      .filter(([, tos]) => tos.includes('destroyed'))
      .map(([from]) => from);
    expect(into).toEqual(['pending_deletion']);
  });
});
