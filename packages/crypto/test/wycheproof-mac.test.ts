import { describe, expect, it } from 'vitest';
import { hmacTag, hmacVerify, type MacAlgorithm, mac, verifyMac } from '../src/mac.js';
import { check, hex, loadWycheproof, total, type WycheproofTest } from './wycheproof.js';

interface MacTest extends WycheproofTest {
  key: string;
  msg: string;
  tag: string;
}
interface MacGroup {
  keySize: number;
  tagSize: number;
  tests: MacTest[];
}

const FILES: ReadonlyArray<[MacAlgorithm, string, number]> = [
  ['hmac-sha256', 'hmac_sha256_test.json', 256],
  ['hmac-sha512', 'hmac_sha512_test.json', 512],
];

for (const [algorithm, file, bits] of FILES) {
  describe(`Wycheproof ${file}`, () => {
    const { testGroups } = loadWycheproof<MacGroup>(file);
    const full = testGroups.filter((g) => g.tagSize === bits);
    const truncated = testGroups.filter((g) => g.tagSize < bits);

    it(`${algorithm}: full-length tags, registry key size, through mac/verifyMac`, () => {
      const groups = full.filter((g) => g.keySize === bits);
      const tally = check(
        groups.flatMap((g) => g.tests),
        (t) => {
          const key = hex(t.key);
          const accepted = verifyMac(algorithm, key, hex(t.msg), hex(t.tag));
          if (t.result === 'valid') expect(Buffer.from(mac(algorithm, key, hex(t.msg))).toString('hex')).toBe(t.tag);
          return accepted;
        },
      );
      expect(tally.valid).toBeGreaterThan(0);
      expect(tally.invalid).toBeGreaterThan(0);
      expect(total(tally)).toBe(groups.reduce((n, g) => n + g.tests.length, 0));
    });

    // mac/verifyMac insist on the registry's key length (32 / 64 bytes) and refuse others
    // with invalid_key; the HMAC they delegate to (hmacTag/hmacVerify) takes any key
    // length, so the other key sizes are checked one layer down.
    it(`${algorithm}: full-length tags, other key sizes, through hmacTag/hmacVerify (mac refuses these keys)`, () => {
      const groups = full.filter((g) => g.keySize !== bits);
      const tally = check(
        groups.flatMap((g) => g.tests),
        (t) => {
          expect(() => mac(algorithm, hex(t.key), hex(t.msg))).toThrow(expect.objectContaining({ code: 'invalid_key' }));
          if (t.result === 'valid') expect(Buffer.from(hmacTag(algorithm, hex(t.key), hex(t.msg))).toString('hex')).toBe(t.tag);
          return hmacVerify(algorithm, hex(t.key), hex(t.msg), hex(t.tag));
        },
      );
      expect(total(tally)).toBe(groups.reduce((n, g) => n + g.tests.length, 0));
      expect(total(tally)).toBeGreaterThan(0);
    });

    // Policy: Keyward never produces or accepts truncated tags (RFC 2104 §5 permits them;
    // a KMS has no bandwidth reason to). So for truncated-tag groups: a valid case's tag
    // must be a prefix of our full tag (the HMAC is right), and verification must refuse
    // every truncated tag, valid or invalid, because its length is wrong.
    it(`${algorithm}: truncated-tag groups — policy: full tag has the vector's tag as prefix, verifyMac refuses all`, () => {
      let cases = 0;
      for (const t of truncated.flatMap((g) => g.tests)) {
        const tag = hmacTag(algorithm, hex(t.key), hex(t.msg));
        if (t.result === 'valid') expect(Buffer.from(tag.subarray(0, t.tag.length / 2)).toString('hex'), `tcId ${t.tcId}`).toBe(t.tag);
        expect(hmacVerify(algorithm, hex(t.key), hex(t.msg), hex(t.tag)), `tcId ${t.tcId}`).toBe(false);
        cases++;
      }
      expect(cases).toBe(truncated.reduce((n, g) => n + g.tests.length, 0));
      expect(cases).toBeGreaterThan(0);
    });
  });
}
