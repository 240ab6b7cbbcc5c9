import { describe, expect, it } from 'vitest';
import { type AsymmetricEncryptionAlgorithm, asymmetricDecrypt, asymmetricEncrypt } from '../src/asymmetric-encrypt.js';
import { check, hex, loadWycheproof, succeeds, total, type WycheproofTest } from './wycheproof.js';

interface OaepTest extends WycheproofTest {
  msg: string;
  ct: string;
  label: string;
}
interface OaepGroup {
  keySize: number;
  sha: string;
  mgfSha: string;
  privateKeyPkcs8: string;
  tests: OaepTest[];
}

const FILES: ReadonlyArray<[AsymmetricEncryptionAlgorithm, string]> = [
  ['rsa-oaep-3072', 'rsa_oaep_3072_sha256_mgf1sha256_test.json'],
  ['rsa-oaep-4096', 'rsa_oaep_4096_sha256_mgf1sha256_test.json'],
];

for (const [algorithm, file] of FILES) {
  describe(`Wycheproof ${file}`, () => {
    const { testGroups } = loadWycheproof<OaepGroup>(file);

    it(`${algorithm}: decrypt every case with the vector's key; invalid ones throw decrypt_failed`, () => {
      let count = 0;
      for (const group of testGroups) {
        expect([group.sha, group.mgfSha]).toEqual(['SHA-256', 'SHA-256']);
        const secret = hex(group.privateKeyPkcs8);
        const tally = check(group.tests, (t) => {
          let plaintext: Uint8Array | undefined;
          const ok = succeeds(() => {
            plaintext = asymmetricDecrypt(algorithm, secret, hex(t.ct), hex(t.label));
          }, 'decrypt_failed');
          if (ok) expect(Buffer.from(plaintext ?? []).toString('hex'), `tcId ${t.tcId}`).toBe(t.msg);
          return ok;
        });
        expect(tally.valid).toBeGreaterThan(0);
        expect(tally.invalid).toBeGreaterThan(0);
        count += total(tally);
        // Encryption is randomized, so round-trip the valid messages with their labels instead.
        for (const t of group.tests.filter((c) => c.result === 'valid')) {
          const ct = asymmetricEncrypt(algorithm, secret, hex(t.msg), hex(t.label));
          expect(Buffer.from(asymmetricDecrypt(algorithm, secret, ct, hex(t.label))).toString('hex')).toBe(t.msg);
        }
      }
      expect(count).toBe(testGroups.reduce((n, g) => n + g.tests.length, 0));
    });
  });
}
