import { createHash } from 'node:crypto';
import { ALGORITHMS, type AlgorithmName } from '@keyward/wire';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { unwrapKey, wrapKey } from '../src/aead.js';
import { asymmetricDecrypt, asymmetricEncrypt } from '../src/asymmetric-encrypt.js';
import { type CiphertextAlgorithm, decryptCiphertext, encryptToCiphertext, parseCiphertext } from '../src/ciphertext.js';
import { mac, verifyMac } from '../src/mac.js';
import { type GeneratedKey, getAlgorithm } from '../src/registry.js';
import { sign, verify, verifyWithPublicKey } from '../src/sign.js';

/** One key per algorithm for the whole suite: RSA generation takes seconds. */
const keys = new Map<AlgorithmName, GeneratedKey>();
beforeAll(() => {
  for (const name of ALGORITHMS) keys.set(name, getAlgorithm(name).generate());
}, 120_000);

function key(name: AlgorithmName): GeneratedKey {
  const k = keys.get(name);
  if (k === undefined) throw new Error(`no key for ${name}`);
  return k;
}

const bytes = (maxLength = 256) => fc.uint8Array({ maxLength });
/** Any well-formed Unicode keys and values (unit 'binary' never yields lone surrogates). */
const context = fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }), { maxKeys: 5 });
const slow = (name: string) => (name.startsWith('rsa') || name === 'ml-dsa-65' ? 15 : 60);
const DECRYPT_FAILED = expect.objectContaining({ code: 'decrypt_failed' });

const SIGNERS = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072', 'rsa-pss-4096', 'ml-dsa-65'] as const;
const ENCRYPTERS: readonly CiphertextAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305', 'rsa-oaep-3072', 'rsa-oaep-4096'];

describe('property: sign → verify round trip', () => {
  for (const alg of SIGNERS) {
    it(alg, () => {
      const { secret, publicKeyPem } = key(alg);
      fc.assert(
        fc.property(bytes(), bytes(), (message, other) => {
          const signature = sign(alg, secret, { message });
          expect(verify(alg, secret, { message }, signature)).toBe(true);
          expect(verifyWithPublicKey(alg, publicKeyPem ?? '', { message }, signature)).toBe(true);
          if (!Buffer.from(other).equals(message)) expect(verify(alg, secret, { message: other }, signature)).toBe(false);
        }),
        { numRuns: slow(alg) },
      );
    });
  }

  for (const [alg, hash] of [
    ['ecdsa-p256', 'sha256'],
    ['ecdsa-p384', 'sha384'],
  ] as const) {
    it(`${alg}: digest and message paths agree in both directions`, () => {
      const { secret, publicKeyPem } = key(alg);
      fc.assert(
        fc.property(bytes(), (message) => {
          const digest = new Uint8Array(createHash(hash).update(message).digest());
          expect(verifyWithPublicKey(alg, publicKeyPem ?? '', { message }, sign(alg, secret, { digest }))).toBe(true);
          expect(verify(alg, secret, { digest }, sign(alg, secret, { message }))).toBe(true);
        }),
        { numRuns: 30 },
      );
    });
  }
});

describe('property: mac → verifyMac round trip', () => {
  for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
    it(alg, () => {
      const { secret } = key(alg);
      fc.assert(
        fc.property(bytes(), fc.nat(), (message, cut) => {
          const tag = mac(alg, secret, message);
          expect(verifyMac(alg, secret, message, tag)).toBe(true);
          expect(verifyMac(alg, secret, message, tag.subarray(0, cut % tag.length))).toBe(false);
          const flipped = Uint8Array.from(tag);
          flipped[cut % tag.length] = (flipped[cut % tag.length] ?? 0) ^ 0x80;
          expect(verifyMac(alg, secret, message, flipped)).toBe(false);
        }),
      );
    });
  }
});

describe('property: RSA-OAEP round trip and label binding', () => {
  for (const alg of ['rsa-oaep-3072', 'rsa-oaep-4096'] as const) {
    it(alg, () => {
      const { secret, publicKeyPem } = key(alg);
      fc.assert(
        fc.property(bytes(318), bytes(64), bytes(64), (plaintext, label, otherLabel) => {
          const ct = asymmetricEncrypt(alg, publicKeyPem ?? '', plaintext, label);
          expect(asymmetricDecrypt(alg, secret, ct, label)).toEqual(plaintext);
          if (!Buffer.from(label).equals(otherLabel)) {
            expect(() => asymmetricDecrypt(alg, secret, ct, otherLabel)).toThrow(DECRYPT_FAILED);
          }
        }),
        { numRuns: 15 },
      );
    });
  }
});

describe('property: ciphertext format', () => {
  const header = (algorithm: CiphertextAlgorithm) =>
    fc.record({ keyId: fc.uuid(), keyVersion: fc.integer({ min: 1, max: 0xffff_ffff }), algorithm: fc.constant(algorithm) });

  for (const alg of ENCRYPTERS) {
    const secretFor = () => key(alg).secret;
    const maxPlaintext = alg.startsWith('rsa') ? 300 : 512;

    it(`${alg}: round trip, header fields exposed`, () => {
      fc.assert(
        fc.property(header(alg), bytes(maxPlaintext), context, (h, plaintext, ctx) => {
          const parsed = parseCiphertext(encryptToCiphertext(h, secretFor(), plaintext, ctx));
          expect(parsed).toMatchObject(h);
          expect(decryptCiphertext(parsed, secretFor(), ctx)).toEqual(plaintext);
        }),
        { numRuns: slow(alg) },
      );
    });

    it(`${alg}: any single bit flipped in the decoded bytes → decrypt_failed`, () => {
      fc.assert(
        fc.property(header(alg), bytes(maxPlaintext), context, fc.nat(), fc.integer({ min: 0, max: 7 }), (h, plaintext, ctx, at, bit) => {
          const raw = Buffer.from(encryptToCiphertext(h, secretFor(), plaintext, ctx).slice(4), 'base64url');
          const i = at % raw.length;
          raw[i] = (raw[i] ?? 0) ^ (1 << bit);
          const text = `kw1:${raw.toString('base64url')}`;
          expect(() => decryptCiphertext(parseCiphertext(text), secretFor(), ctx)).toThrow(DECRYPT_FAILED);
        }),
        { numRuns: alg.startsWith('rsa') ? 30 : 300 },
      );
    });

    it(`${alg}: a different context → decrypt_failed; key order does not matter`, () => {
      fc.assert(
        fc.property(header(alg), bytes(64), context, context, (h, plaintext, ctx, other) => {
          const parsed = parseCiphertext(encryptToCiphertext(h, secretFor(), plaintext, ctx));
          const reordered = Object.fromEntries(Object.entries(ctx).reverse());
          expect(decryptCiphertext(parsed, secretFor(), reordered)).toEqual(plaintext);
          const same = JSON.stringify(Object.entries(ctx).sort()) === JSON.stringify(Object.entries(other).sort());
          if (!same) expect(() => decryptCiphertext(parsed, secretFor(), other)).toThrow(DECRYPT_FAILED);
        }),
        { numRuns: slow(alg) },
      );
    });
  }
});

describe('property: wrapKey → unwrapKey', () => {
  it('round trip; wrong AAD or a flipped bit fails', () => {
    const kek = key('aes-256-gcm').secret;
    fc.assert(
      fc.property(bytes(), bytes(64), fc.nat(), (material, aad, at) => {
        const wrapped = wrapKey(kek, material, aad);
        expect(wrapped.length).toBe(12 + material.length + 16);
        expect(unwrapKey(kek, wrapped, aad)).toEqual(material);
        const flipped = Uint8Array.from(wrapped);
        flipped[at % flipped.length] = (flipped[at % flipped.length] ?? 0) ^ 1;
        expect(() => unwrapKey(kek, flipped, aad)).toThrow(DECRYPT_FAILED);
        expect(() => unwrapKey(kek, wrapped, Buffer.concat([aad, Uint8Array.of(0)]))).toThrow(DECRYPT_FAILED);
      }),
    );
  });
});
