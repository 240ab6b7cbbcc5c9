import { createHash } from 'node:crypto';
import type { AlgorithmName } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { verifyWithPublicKey } from '../src/sign.js';
import { check, emptyTally, hex, loadWycheproof, total, type WycheproofTest } from './wycheproof.js';

interface SignatureTest extends WycheproofTest {
  msg: string;
  sig: string;
}
interface SignatureGroup {
  publicKeyPem: string;
  sha?: string;
  sLen?: number;
  tests: SignatureTest[];
}

/** [algorithm, file, hash for the digest path (ECDSA only)] */
const FILES: ReadonlyArray<[AlgorithmName, string, string | null]> = [
  ['ed25519', 'ed25519_test.json', null],
  ['ecdsa-p256', 'ecdsa_secp256r1_sha256_test.json', 'sha256'],
  ['ecdsa-p384', 'ecdsa_secp384r1_sha384_test.json', 'sha384'],
  ['rsa-pss-3072', 'rsa_pss_3072_sha256_mgf1_32_test.json', null],
  ['rsa-pss-4096', 'rsa_pss_4096_sha512_mgf1_64_test.json', null],
];

for (const [algorithm, file, digestHash] of FILES) {
  describe(`Wycheproof ${file}`, () => {
    const { testGroups } = loadWycheproof<SignatureGroup>(file);
    const cases = testGroups.reduce((n, g) => n + g.tests.length, 0);

    it(`${algorithm}: verifyWithPublicKey over the message, every case`, () => {
      const tally = emptyTally();
      for (const group of testGroups) {
        check(group.tests, (t) => verifyWithPublicKey(algorithm, group.publicKeyPem, { message: hex(t.msg) }, hex(t.sig)), tally);
      }
      expect(tally.valid).toBeGreaterThan(0);
      expect(tally.invalid).toBeGreaterThan(0);
      expect(total(tally)).toBe(cases);
    });

    if (digestHash !== null) {
      // The same vectors through the caller-supplied-digest path (@noble/curves, prehash off):
      // both implementations must agree on every case.
      it(`${algorithm}: verifyWithPublicKey over the ${digestHash} digest, every case`, () => {
        const tally = emptyTally();
        for (const group of testGroups) {
          check(
            group.tests,
            (t) => {
              const digest = new Uint8Array(createHash(digestHash).update(hex(t.msg)).digest());
              return verifyWithPublicKey(algorithm, group.publicKeyPem, { digest }, hex(t.sig));
            },
            tally,
          );
        }
        expect(total(tally)).toBe(cases);
        expect(tally.valid).toBeGreaterThan(0);
      });
    }
  });
}
