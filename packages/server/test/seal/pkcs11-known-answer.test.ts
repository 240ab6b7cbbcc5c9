import { randomUUID } from 'node:crypto';
import { type CiphertextHeader, decryptCiphertext, decryptCiphertextWith, encryptToCiphertextWith, parseCiphertext } from '@keyward/crypto';
import type { Handle } from 'pkcs11js';
import { afterAll, describe, expect, it } from 'vitest';
import { check, emptyTally, hex, loadWycheproof, total, type WycheproofTest } from '../../../crypto/test/wycheproof.js';
import { loadPkcs11Library } from '../../src/seal/pkcs11/pkcs11-library.js';
import { Pkcs11Session, pssMechanism } from '../../src/seal/pkcs11/pkcs11-session.js';
import { inProcessSoftHsm } from '../support/softhsm.js';

const TOKEN = 'keyward-kat';
const PIN = `pin-${randomUUID()}`;
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);
const lib = loadPkcs11Library(hsm.library);
// The production session: its encryptWith/decryptWith are what hsm keys use (service/hsm-keys.ts).
const session = new Pkcs11Session(lib, { library: hsm.library, token: TOKEN, keyLabel: 'unused' }, PIN);
const slot = lib.module.C_GetSlotList(true).find((s) => lib.module.C_GetTokenInfo(s).label.trim() === TOKEN) as Handle;
const raw = lib.module.C_OpenSession(slot, lib.ck.CKF_SERIAL_SESSION | lib.ck.CKF_RW_SESSION);
afterAll(() => {
  lib.module.C_CloseSession(raw);
  session.close();
});

/**
 * A session object holding a KNOWN key, only so published vectors can run in
 * the token: Keyward itself never imports key values into the token (hsm
 * versions are generated there, non-extractable).
 */
function importAesKey(value: Uint8Array): Handle {
  const { ck, module } = lib;
  // Session objects are the application's (PKCS#11 v2.40 §4.4): created here, usable through the production session.
  return module.C_CreateObject(raw, [
    { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
    { type: ck.CKA_KEY_TYPE, value: ck.CKK_AES },
    { type: ck.CKA_TOKEN, value: false },
    { type: ck.CKA_VALUE, value: Buffer.from(value) },
    { type: ck.CKA_ENCRYPT, value: true },
    { type: ck.CKA_DECRYPT, value: true },
  ]);
}

/** docs/formats.md §6, vector 1 (the same as packages/crypto/test/ciphertext.test.ts). */
const GOLDEN = {
  key: hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
  header: { keyId: '3f2504e0-4f89-41d3-9a0c-0305e82c3301', keyVersion: 1, algorithm: 'aes-256-gcm' } satisfies CiphertextHeader,
  nonce: 'cafebabefacedbaddecaf888',
  plaintext: 'hello, keyward',
  context: { tenant: 'acme', purpose: 'backup' },
  bytes: '01013f2504e04f8941d39a0c0305e82c330100000001cafebabefacedbaddecaf888e2c6cc4ac5566f7023722abc09799083904d44ee4ff41dbd704a1de5610e',
  text: 'kw1:AQE_JQTgT4lB05oMAwXoLDMBAAAAAcr-ur76ztut3sr4iOLGzErFVm9wI3IqvAl5kIOQTUTuT_QdvXBKHeVhDg',
};

interface AeadTest {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}

describe('crypto known answers in the token (CKM_AES_GCM on SoftHSM2)', () => {
  it('golden ciphertext vector 1: decrypts in the token, and the token reproduces it byte for byte', () => {
    const key = importAesKey(GOLDEN.key);
    const parsed = parseCiphertext(GOLDEN.text);
    const plain = decryptCiphertextWith(parsed, GOLDEN.context, (iv, body, aad) => session.decryptWith(key, iv, body, aad));
    expect(Buffer.from(plain).toString()).toBe(GOLDEN.plaintext);
    // The framing hands the token header ‖ context as AAD; with the vector's nonce the token's output is the vector.
    let seenAad: Uint8Array | null = null;
    const fresh = encryptToCiphertextWith(GOLDEN.header, Buffer.from(GOLDEN.plaintext), GOLDEN.context, (iv, p, aad) => {
      seenAad = aad;
      return session.encryptWith(key, iv, p, aad);
    });
    if (seenAad === null) throw new Error('the token was not called');
    const fixed = session.encryptWith(key, hex(GOLDEN.nonce), Buffer.from(GOLDEN.plaintext), seenAad);
    expect(Buffer.from(fixed).toString('hex')).toBe(GOLDEN.bytes.slice(2 * 34));
    // A fresh (random-nonce) ciphertext of the token decrypts in software with the same key: one format.
    expect(Buffer.from(decryptCiphertext(parseCiphertext(fresh), GOLDEN.key, GOLDEN.context)).toString()).toBe(GOLDEN.plaintext);
    // A wrong context does not authenticate in the token either.
    expect(session.decryptWith(key, parsed.nonce, parsed.body, Buffer.from('other'))).toBeNull();
  });

  it('Wycheproof aes_gcm_test.json: every 256-bit key / 96-bit IV / 128-bit tag case, valid and invalid', () => {
    const { testGroups } = loadWycheproof<{ keySize: number; ivSize: number; tagSize: number; tests: AeadTest[] }>('aes_gcm_test.json');
    const tests = testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128).flatMap((g) => g.tests);
    expect(tests.length).toBeGreaterThan(0);
    const keys = new Map<string, Handle>();
    let valid = 0;
    let invalid = 0;
    for (const t of tests) {
      let key = keys.get(t.key);
      if (key === undefined) {
        key = importAesKey(hex(t.key));
        keys.set(t.key, key);
      }
      const sealed = Buffer.concat([hex(t.ct), hex(t.tag)]);
      const opened = session.decryptWith(key, hex(t.iv), sealed, hex(t.aad));
      if (t.result === 'valid') {
        valid++;
        const out = session.encryptWith(key, hex(t.iv), hex(t.msg), hex(t.aad));
        expect(Buffer.from(out).toString('hex'), `tcId ${t.tcId}`).toBe(sealed.toString('hex'));
        expect(Buffer.from(opened ?? []).toString('hex'), `tcId ${t.tcId}`).toBe(t.msg);
        expect(opened, `tcId ${t.tcId}`).not.toBeNull();
      } else if (t.result === 'invalid') {
        invalid++;
        expect(opened, `tcId ${t.tcId}`).toBeNull();
      }
    }
    expect(valid).toBeGreaterThan(0);
    expect(invalid).toBeGreaterThan(0);
  });
});

interface PssGroup {
  keySize: number;
  sLen: number;
  publicKey: { modulus: string; publicExponent: string };
  tests: Array<WycheproofTest & { msg: string; sig: string }>;
}

/** Hex as a Buffer whose data pointer is never NULL, even when empty (pkcs11js passes an empty Buffer as NULL). */
function nonNull(text: string): Buffer {
  return text.length === 0 ? Buffer.alloc(1).subarray(0, 0) : Buffer.from(text, 'hex');
}

/** A session object holding a vector's RSA public key, to verify in the token (Keyward never imports keys into the token). */
function importRsaPublicKey(modulus: string, exponent: string): Handle {
  const { ck, module } = lib;
  // Wycheproof writes the modulus as a signed big-endian integer (a leading 00); PKCS#11 wants the unsigned bytes.
  const n = Buffer.from(modulus.replace(/^(00)+/, ''), 'hex');
  return module.C_CreateObject(raw, [
    { type: ck.CKA_CLASS, value: ck.CKO_PUBLIC_KEY },
    { type: ck.CKA_KEY_TYPE, value: ck.CKK_RSA },
    { type: ck.CKA_TOKEN, value: false },
    { type: ck.CKA_MODULUS, value: n },
    { type: ck.CKA_PUBLIC_EXPONENT, value: Buffer.from(exponent, 'hex') },
    { type: ck.CKA_VERIFY, value: true },
  ]);
}

describe('RSA-PSS known answers in the token (the mechanism hsm RSA keys sign with, on SoftHSM2)', () => {
  const files = [
    ['rsa_pss_3072_sha256_mgf1_32_test.json', 'sha256', 32],
    ['rsa_pss_4096_sha512_mgf1_64_test.json', 'sha512', 64],
  ] as const;
  for (const [file, hash, saltLength] of files) {
    it(`Wycheproof ${file}: pssMechanism(${hash}, salt ${saltLength}) verifies every valid case and rejects every invalid one`, () => {
      const { testGroups } = loadWycheproof<PssGroup>(file);
      const { module } = lib;
      const tally = emptyTally();
      for (const group of testGroups) {
        // The vectors are for exactly the parameters of the production path (service/hsm-keys.ts).
        expect(group.sLen).toBe(saltLength);
        const key = importRsaPublicKey(group.publicKey.modulus, group.publicKey.publicExponent);
        check(
          group.tests,
          (t) => {
            // One session per case: SoftHSM leaves a verify operation active after some refusals (a NULL
            // signature), and a case must not decide the next one's outcome.
            const verifier = module.C_OpenSession(slot, lib.ck.CKF_SERIAL_SESSION);
            try {
              module.C_VerifyInit(verifier, pssMechanism(lib.ck, hash, saltLength), key);
              return module.C_Verify(verifier, nonNull(t.msg), nonNull(t.sig));
            } catch {
              // CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE, …: rejected.
              return false;
            } finally {
              module.C_CloseSession(verifier);
            }
          },
          tally,
        );
      }
      expect(tally.valid).toBeGreaterThan(0);
      expect(tally.invalid).toBeGreaterThan(0);
      expect(total(tally)).toBe(testGroups.reduce((n, g) => n + g.tests.length, 0));
    });
  }
});
