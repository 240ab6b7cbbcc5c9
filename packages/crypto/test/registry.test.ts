import { createHmac } from 'node:crypto';
import { ALGORITHMS, type AlgorithmName } from '@keyward/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAsymmetricPlaintext } from '../src/asymmetric-encrypt.js';
import { fingerprint } from '../src/fingerprint.js';
import { mac, verifyMac } from '../src/mac.js';
import { mlDsa65PublicKeyFromSpki } from '../src/ml-dsa-spki.js';
import { pemToDer } from '../src/pem.js';
import { publicJwk, publicKeyPem } from '../src/public-key.js';
import { type GeneratedKey, getAlgorithm, isAlgorithmName } from '../src/registry.js';
import { sign, verify, verifyWithPublicKey } from '../src/sign.js';

const EXPECTED: Readonly<Record<AlgorithmName, { usage: string; asymmetric: boolean; limit: number | null; secretBytes?: number }>> = {
  'aes-256-gcm': { usage: 'encrypt', asymmetric: false, limit: 2 ** 32, secretBytes: 32 },
  'chacha20-poly1305': { usage: 'encrypt', asymmetric: false, limit: 2 ** 32, secretBytes: 32 },
  'hmac-sha256': { usage: 'mac', asymmetric: false, limit: null, secretBytes: 32 },
  'hmac-sha512': { usage: 'mac', asymmetric: false, limit: null, secretBytes: 64 },
  ed25519: { usage: 'sign', asymmetric: true, limit: null },
  'ecdsa-p256': { usage: 'sign', asymmetric: true, limit: null },
  'ecdsa-p384': { usage: 'sign', asymmetric: true, limit: null },
  'rsa-pss-3072': { usage: 'sign', asymmetric: true, limit: null },
  'rsa-pss-4096': { usage: 'sign', asymmetric: true, limit: null },
  'ml-dsa-65': { usage: 'sign', asymmetric: true, limit: null, secretBytes: 32 },
  'rsa-oaep-3072': { usage: 'encrypt', asymmetric: true, limit: null },
  'rsa-oaep-4096': { usage: 'encrypt', asymmetric: true, limit: null },
};

const keys = new Map<AlgorithmName, GeneratedKey>();
beforeAll(() => {
  for (const name of ALGORITHMS) keys.set(name, getAlgorithm(name).generate());
}, 120_000);
function key(name: AlgorithmName): GeneratedKey {
  const k = keys.get(name);
  if (k === undefined) throw new Error(name);
  return k;
}
const code = (c: string, message?: string) => expect.objectContaining(message === undefined ? { code: c } : { code: c, message });

describe('registry', () => {
  it('has exactly the twelve algorithms of API.md', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ALGORITHMS].sort());
    for (const name of ALGORITHMS) expect(isAlgorithmName(name)).toBe(true);
    for (const other of ['AES-256-GCM', 'rsa-pss-2048', '', null, 1, 'toString', '__proto__']) expect(isAlgorithmName(other)).toBe(false);
    expect(() => getAlgorithm('des' as AlgorithmName)).toThrow(code('unsupported'));
  });

  for (const name of ALGORITHMS) {
    it(`${name}: spec, generated secret, public key, fingerprint, JWK`, () => {
      const spec = getAlgorithm(name);
      const expected = EXPECTED[name];
      expect({ name: spec.name, usage: spec.usage, asymmetric: spec.asymmetric, limit: spec.safeUseLimit }).toEqual({
        name,
        usage: expected.usage,
        asymmetric: expected.asymmetric,
        limit: expected.limit,
      });
      expect(Object.isFrozen(spec)).toBe(true);
      const { secret, publicKeyPem: pem } = key(name);
      if (expected.secretBytes !== undefined) expect(secret.length).toBe(expected.secretBytes);
      if (!expected.asymmetric) {
        expect(pem).toBeNull();
        expect(publicKeyPem(name, secret)).toBeNull();
        expect(publicJwk(name, secret)).toBeNull();
        const hmac = createHmac('sha256', secret).update('keyward fingerprint v1').digest('hex').slice(0, 32);
        expect(fingerprint(name, secret)).toBe(`hmac-sha256:${hmac}`);
        return;
      }
      expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n$/);
      expect(publicKeyPem(name, secret)).toBe(pem);
      expect(fingerprint(name, secret)).toMatch(/^sha256:[0-9a-f]{64}$/);
      const jwk = publicJwk(name, secret);
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'priv']) expect(jwk).not.toHaveProperty(member);
      expect(jwk).toHaveProperty('kty');
    });
  }

  it('two generations differ; fingerprints tell versions apart', () => {
    for (const name of ['aes-256-gcm', 'ed25519', 'ml-dsa-65'] as const) {
      const a = getAlgorithm(name).generate().secret;
      const b = getAlgorithm(name).generate().secret;
      expect(fingerprint(name, a)).not.toBe(fingerprint(name, b));
    }
  });

  it('ml-dsa-65 public key: SPKI PEM parses back; JWK is AKP per draft-ietf-cose-dilithium', () => {
    const { secret, publicKeyPem: pem } = key('ml-dsa-65');
    const raw = mlDsa65PublicKeyFromSpki(pemToDer('PUBLIC KEY', pem ?? ''));
    expect(raw.length).toBe(1952);
    expect(publicJwk('ml-dsa-65', secret)).toEqual({ kty: 'AKP', alg: 'ML-DSA-65', pub: Buffer.from(raw).toString('base64url') });
    expect(() => mlDsa65PublicKeyFromSpki(pemToDer('PUBLIC KEY', key('ed25519').publicKeyPem ?? ''))).toThrow(code('invalid_key'));
  });
});

describe('operation errors', () => {
  it('digest input: only ECDSA, and only of the hash length', () => {
    for (const alg of ['ed25519', 'rsa-pss-3072', 'rsa-pss-4096', 'ml-dsa-65'] as const) {
      expect(() => sign(alg, key(alg).secret, { digest: new Uint8Array(32) })).toThrow(
        code('unsupported', `${alg} signs messages, not digests`),
      );
      expect(() => verify(alg, key(alg).secret, { digest: new Uint8Array(32) }, new Uint8Array(64))).toThrow(code('unsupported'));
    }
    expect(() => sign('ecdsa-p256', key('ecdsa-p256').secret, { digest: new Uint8Array(48) })).toThrow(
      code('invalid_input', 'digest must be 32 bytes for ecdsa-p256'),
    );
    expect(() => sign('ecdsa-p384', key('ecdsa-p384').secret, { digest: new Uint8Array(32) })).toThrow(
      code('invalid_input', 'digest must be 48 bytes for ecdsa-p384'),
    );
  });

  it('non-signing algorithms, and secrets that do not fit, are refused', () => {
    expect(() => sign('hmac-sha256', key('hmac-sha256').secret, { message: new Uint8Array() })).toThrow(code('unsupported'));
    expect(() => sign('ecdsa-p256', key('ecdsa-p384').secret, { message: new Uint8Array() })).toThrow(code('invalid_key'));
    expect(() => sign('rsa-pss-4096', key('rsa-pss-3072').secret, { message: new Uint8Array() })).toThrow(code('invalid_key'));
    expect(() => sign('ed25519', new Uint8Array(32), { message: new Uint8Array() })).toThrow(code('invalid_key'));
    expect(() => sign('ml-dsa-65', new Uint8Array(31), { message: new Uint8Array() })).toThrow(code('invalid_key'));
    expect(() =>
      verifyWithPublicKey('ecdsa-p256', key('ecdsa-p384').publicKeyPem ?? '', { message: new Uint8Array() }, new Uint8Array()),
    ).toThrow(code('invalid_key'));
    expect(() => verifyWithPublicKey('ed25519', 'not a pem', { message: new Uint8Array() }, new Uint8Array())).toThrow(code('invalid_key'));
    expect(() => mac('hmac-sha256', new Uint8Array(16), new Uint8Array())).toThrow(code('invalid_key'));
    expect(() => mac('hmac-sha384' as 'hmac-sha256', new Uint8Array(32), new Uint8Array())).toThrow(code('unsupported'));
    expect(verifyMac('hmac-sha512', key('hmac-sha512').secret, new Uint8Array(), new Uint8Array())).toBe(false);
  });

  it('verify returns false, never throws, for malformed signatures', () => {
    const message = new Uint8Array([1, 2, 3]);
    for (const alg of ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072', 'rsa-pss-4096', 'ml-dsa-65'] as const) {
      const { secret, publicKeyPem: pem } = key(alg);
      const real = sign(alg, secret, { message });
      for (const bad of [
        new Uint8Array(),
        new Uint8Array(1),
        new Uint8Array(real.length),
        Buffer.concat([real, Uint8Array.of(0)]),
        real.subarray(1),
      ]) {
        expect(verify(alg, secret, { message }, bad)).toBe(false);
        expect(verifyWithPublicKey(alg, pem ?? '', { message }, bad)).toBe(false);
      }
    }
    for (const alg of ['ecdsa-p256', 'ecdsa-p384'] as const) {
      const digest = new Uint8Array(alg === 'ecdsa-p256' ? 32 : 48);
      expect(verify(alg, key(alg).secret, { digest }, Uint8Array.of(0x30, 0x00))).toBe(false);
    }
  });

  it('maxAsymmetricPlaintext is k - 2·hLen - 2 (RFC 8017 §7.1.1)', () => {
    expect(maxAsymmetricPlaintext('rsa-oaep-3072')).toBe(384 - 66);
    expect(maxAsymmetricPlaintext('rsa-oaep-4096')).toBe(512 - 66);
  });
});
