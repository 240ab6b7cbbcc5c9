import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aeadDecrypt, aeadEncrypt } from '../src/aead.js';
import { publicJwk, publicKeyPem } from '../src/public-key.js';
import { sign, verify, verifyWithPublicKey } from '../src/sign.js';
import { hex, loadWycheproof } from './wycheproof.js';

/** RFC 8410 §7: PKCS#8 wrapping of a raw Ed25519 private key (the 32-byte seed of RFC 8032 §5.1.5). */
function ed25519Pkcs8(seedHex: string): Uint8Array {
  return hex(`302e020100300506032b657004220420${seedHex}`);
}

/** RFC 8032 §7.1, Test Vectors for Ed25519. */
const RFC8032 = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    // The message is SHA-512("abc"), checked below.
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
] as const;

describe('RFC 8032 §7.1 Ed25519 test vectors', () => {
  it('TEST SHA(abc) message is SHA-512("abc")', () => {
    expect(createHash('sha512').update('abc').digest('hex')).toBe(RFC8032[3].message);
  });

  for (const v of RFC8032) {
    it(`${v.name}: public key, signature byte-for-byte, verify`, () => {
      const secret = ed25519Pkcs8(v.secret);
      const message = hex(v.message);
      expect(publicJwk('ed25519', secret)).toEqual({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from(v.public, 'hex').toString('base64url') });
      const pem = publicKeyPem('ed25519', secret);
      expect(pem).toBe(
        `-----BEGIN PUBLIC KEY-----\n${Buffer.from(`302a300506032b6570032100${v.public}`, 'hex').toString('base64')}\n-----END PUBLIC KEY-----\n`,
      );
      // Ed25519 is deterministic (RFC 8032 §5.1.6), so the signature must match exactly.
      expect(Buffer.from(sign('ed25519', secret, { message })).toString('hex')).toBe(v.signature);
      expect(verify('ed25519', secret, { message }, hex(v.signature))).toBe(true);
      expect(verifyWithPublicKey('ed25519', pem ?? '', { message }, hex(v.signature))).toBe(true);
      const flipped = hex(v.signature);
      flipped[0] = (flipped[0] ?? 0) ^ 1;
      expect(verifyWithPublicKey('ed25519', pem ?? '', { message }, flipped)).toBe(false);
    });
  }
});

interface AeadTest {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}

describe('RFC 8439 §2.8.2 AEAD_CHACHA20_POLY1305 example', () => {
  // Wycheproof chacha20_poly1305 tcId 1 ("RFC 7539") is this example; the
  // inputs and tag are checked against the RFC text below, and the ciphertext
  // is taken from the vector rather than retyped.
  const vector = loadWycheproof<{ tests: AeadTest[] }>('chacha20_poly1305_test.json')
    .testGroups.flatMap((g) => g.tests)
    .find((t) => t.tcId === 1);

  it('matches the RFC: key 80..9f, nonce 07000000‖4041424344454647, AAD, the sunscreen plaintext, tag', () => {
    expect(vector).toBeDefined();
    if (vector === undefined) return;
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i)).toString('hex');
    expect(vector.key).toBe(key);
    expect(vector.iv).toBe('070000004041424344454647');
    expect(vector.aad).toBe('50515253c0c1c2c3c4c5c6c7');
    expect(Buffer.from(vector.msg, 'hex').toString('utf8')).toBe(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    expect(vector.tag).toBe('1ae10b594f09e26a7e902ecbd0600691');
    expect(vector.ct.startsWith('d31a8d34648e60db7b86afbc53ef7ec2')).toBe(true);
    const sealed = aeadEncrypt('chacha20-poly1305', hex(vector.key), hex(vector.iv), hex(vector.msg), hex(vector.aad));
    expect(Buffer.from(sealed).toString('hex')).toBe(vector.ct + vector.tag);
    expect(Buffer.from(aeadDecrypt('chacha20-poly1305', hex(vector.key), hex(vector.iv), sealed, hex(vector.aad))).toString('hex')).toBe(
      vector.msg,
    );
  });
});
