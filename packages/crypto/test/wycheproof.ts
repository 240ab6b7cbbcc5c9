/**
 * Loads Project Wycheproof vectors (C2SP/wycheproof testvectors_v1, Apache-2.0)
 * kept in test/vectors/wycheproof (copied unchanged from the shared vector set,
 * see the README there), and runs cases with
 * one outcome policy for every file:
 *
 * - `valid` must be accepted and `invalid` must be rejected, each asserted.
 * - `acceptable` (legal but discouraged inputs): either outcome passes; the
 *   outcome is recorded in the returned tally so a change of behaviour shows in
 *   the test's count assertion. (None of the files Keyward uses has any today.)
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}

export interface WycheproofGroup<T extends WycheproofTest> {
  tests: T[];
}

export interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

export function loadWycheproof<G>(file: string): WycheproofFile<G> {
  const url = new URL(`./vectors/wycheproof/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as WycheproofFile<G>;
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export interface Tally {
  valid: number;
  invalid: number;
  acceptableAccepted: number;
  acceptableRejected: number;
}

export function emptyTally(): Tally {
  return { valid: 0, invalid: 0, acceptableAccepted: 0, acceptableRejected: 0 };
}

/** Total number of cases a tally has exercised. */
export function total(tally: Tally): number {
  return tally.valid + tally.invalid + tally.acceptableAccepted + tally.acceptableRejected;
}

/**
 * Runs `accepts` on every case and asserts it against `result`. `accepts`
 * returns true when the implementation accepted the input (decrypted,
 * verified, produced the expected output).
 */
export function check<T extends WycheproofTest>(tests: readonly T[], accepts: (test: T) => boolean, tally: Tally = emptyTally()): Tally {
  for (const test of tests) {
    const accepted = accepts(test);
    const label = `tcId ${test.tcId} (${test.result}) ${test.comment} [${test.flags.join(',')}]`;
    if (test.result === 'acceptable') {
      if (accepted) tally.acceptableAccepted++;
      else tally.acceptableRejected++;
      continue;
    }
    expect(accepted, label).toBe(test.result === 'valid');
    tally[test.result]++;
  }
  return tally;
}

/** True if `fn` returns; false if it throws a CryptoError with `code`; any other error fails the test. */
export function succeeds(fn: () => unknown, code: string): boolean {
  try {
    fn();
    return true;
  } catch (error) {
    expect(error).toMatchObject({ name: 'CryptoError', code });
    return false;
  }
}
