import { describe, expect, it } from 'vitest';
import { mlDsa65PublicKey, mlDsa65Sign } from '../src/ml-dsa-65.js';
import { mlDsa65Spki } from '../src/ml-dsa-spki.js';
import { derToPem } from '../src/pem.js';
import { publicKeyPem } from '../src/public-key.js';
import { sign, verify, verifyWithPublicKey } from '../src/sign.js';
import { check, emptyTally, hex, loadWycheproof, succeeds, total, type WycheproofTest } from './wycheproof.js';

interface MlDsaTest extends WycheproofTest {
  msg?: string;
  mu?: string;
  ctx?: string;
  rnd?: string;
  sig: string;
}
interface VerifyGroup {
  publicKey: string;
  publicKeyDer: string;
  tests: MlDsaTest[];
}
interface SignGroup {
  privateSeed: string;
  publicKey?: string;
  tests: MlDsaTest[];
}

/**
 * Cases Keyward cannot express, skipped by design: a non-empty FIPS 204 context
 * string (Keyward signs with the empty context, API.md) and external-mu
 * ("Internal") cases that carry μ instead of a message (Keyward does not sign μ).
 */
function inScope(t: MlDsaTest): t is MlDsaTest & { msg: string } {
  return t.msg !== undefined && (t.ctx === undefined || t.ctx === '');
}

describe('Wycheproof mldsa_65_verify_test.json', () => {
  const { testGroups } = loadWycheproof<VerifyGroup>('mldsa_65_verify_test.json');
  const all = testGroups.flatMap((g) => g.tests);

  it('ml-dsa-65: verifyWithPublicKey, every empty-context case (non-empty contexts skipped: Keyward signs with the empty context)', () => {
    const tally = emptyTally();
    for (const group of testGroups) {
      const pem = derToPem('PUBLIC KEY', hex(group.publicKeyDer));
      // A public key of the wrong length is not an ML-DSA-65 key: verifyWithPublicKey refuses it with invalid_key.
      check(
        group.tests.filter(inScope),
        (t) => {
          let valid = false;
          succeeds(() => {
            valid = verifyWithPublicKey('ml-dsa-65', pem, { message: hex(t.msg) }, hex(t.sig));
          }, 'invalid_key');
          return valid;
        },
        tally,
      );
    }
    expect(tally.valid).toBeGreaterThan(0);
    expect(tally.invalid).toBeGreaterThan(0);
    expect(total(tally)).toBe(all.filter(inScope).length);
    expect(all.length - total(tally)).toBe(7); // the non-empty-context cases
  });

  it('ml-dsa-65: our SPKI encoding equals the vectors’ publicKeyDer (id-ml-dsa-65)', () => {
    let n = 0;
    for (const group of testGroups.filter((g) => g.publicKey.length === 2 * 1952)) {
      expect(Buffer.from(mlDsa65Spki(hex(group.publicKey))).toString('hex')).toBe(group.publicKeyDer);
      n++;
    }
    expect(n).toBeGreaterThan(0);
  });
});

describe('Wycheproof mldsa_65_sign_seed_test.json', () => {
  const { testGroups } = loadWycheproof<SignGroup>('mldsa_65_sign_seed_test.json');
  const all = testGroups.flatMap((g) => g.tests);

  it('ml-dsa-65: keygen from seed, deterministic (rnd = 0) or given-rnd signature byte-for-byte, verify; bad seed lengths refused', () => {
    const tally = emptyTally();
    for (const group of testGroups) {
      const seed = hex(group.privateSeed);
      check(
        group.tests.filter(inScope),
        (t) => {
          const message = hex(t.msg);
          const produced = succeeds(() => {
            expect(Buffer.from(mlDsa65PublicKey(seed)).toString('hex')).toBe(group.publicKey);
            expect(publicKeyPem('ml-dsa-65', seed)).toBe(derToPem('PUBLIC KEY', mlDsa65Spki(hex(group.publicKey ?? ''))));
            // FIPS 204 Algorithm 2 with rnd = 0^32 (deterministic) unless the vector gives rnd.
            const signature = mlDsa65Sign(seed, message, t.rnd === undefined ? false : hex(t.rnd));
            expect(Buffer.from(signature).toString('hex'), `tcId ${t.tcId}`).toBe(t.sig);
            expect(verify('ml-dsa-65', seed, { message }, signature)).toBe(true);
            // The public, hedged sign: a different signature each time, still valid.
            expect(verify('ml-dsa-65', seed, { message }, sign('ml-dsa-65', seed, { message }))).toBe(true);
          }, 'invalid_key');
          return produced;
        },
        tally,
      );
    }
    expect(tally.valid).toBeGreaterThan(0);
    expect(tally.invalid).toBe(3); // the three wrong seed lengths
    expect(total(tally)).toBe(all.filter(inScope).length);
    // Skipped by design: 4 non-empty-context cases (tcId 3, 4, 5, 108) and 17 external-mu cases (68–77, 101–107).
    expect(all.length - total(tally)).toBe(21);
  });
});
