import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CryptoError } from '../src/errors.js';
import { ecdsaCompactToDer } from '../src/signature-schemes.js';

describe('ecdsaCompactToDer (an HSM answers r ‖ s; Keyward returns DER)', () => {
  for (const [alg, curve, hash, size] of [
    ['ecdsa-p256', 'P-256', 'sha256', 64],
    ['ecdsa-p384', 'P-384', 'sha384', 96],
  ] as const) {
    it(`${alg}: the DER of node's r ‖ s signature verifies with node:crypto and equals node's own DER re-encoding`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 20; i++) {
        const message = Buffer.from(`message ${i}`);
        const compact = nodeSign(hash, message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(compact).toHaveLength(size);
        const der = ecdsaCompactToDer(alg, compact);
        expect(nodeVerify(hash, message, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
        expect(nodeVerify(hash, Buffer.from('other'), { key: publicKey, dsaEncoding: 'der' }, der)).toBe(false);
      }
    });
  }

  it('refuses a wrong length or r, s out of range with invalid_input', () => {
    for (const bad of [new Uint8Array(63), new Uint8Array(64), new Uint8Array(64).fill(0xff)]) {
      expect(() => ecdsaCompactToDer('ecdsa-p256', bad)).toThrow(CryptoError);
      try {
        ecdsaCompactToDer('ecdsa-p256', bad);
      } catch (error) {
        expect((error as CryptoError).code).toBe('invalid_input');
      }
    }
  });
});
