import { ALGORITHMS, type AlgorithmName } from '@keyward/wire';
import { beforeAll, describe, expect, it } from 'vitest';
import { publicJwk, publicJwkFromPem } from '../src/public-key.js';
import { type GeneratedKey, getAlgorithm } from '../src/registry.js';

const keys = new Map<AlgorithmName, GeneratedKey>();
beforeAll(() => {
  for (const name of ALGORITHMS) keys.set(name, getAlgorithm(name).generate());
}, 120_000);
function key(name: AlgorithmName): GeneratedKey {
  const k = keys.get(name);
  if (k === undefined) throw new Error(name);
  return k;
}

describe('publicJwkFromPem', () => {
  for (const name of ALGORITHMS) {
    it(`${name}: the JWK of the stored PEM equals the JWK of the secret (null when symmetric)`, () => {
      const { secret, publicKeyPem } = key(name);
      if (publicKeyPem === null) {
        expect(publicJwkFromPem(name, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')).toBeNull();
        return;
      }
      const jwk = publicJwkFromPem(name, publicKeyPem);
      expect(jwk).toEqual(publicJwk(name, secret));
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'priv']) expect(jwk).not.toHaveProperty(member);
    });
  }

  it('ml-dsa-65: AKP with the raw 1952-byte public key', () => {
    const jwk = publicJwkFromPem('ml-dsa-65', key('ml-dsa-65').publicKeyPem ?? '');
    expect(jwk).toMatchObject({ kty: 'AKP', alg: 'ML-DSA-65' });
    expect(Buffer.from(String(jwk?.pub), 'base64url')).toHaveLength(1952);
  });

  it('refuses a PEM of another algorithm, curve or size, and a malformed PEM', () => {
    const invalid = expect.objectContaining({ code: 'invalid_key' });
    expect(() => publicJwkFromPem('ecdsa-p384', key('ecdsa-p256').publicKeyPem ?? '')).toThrow(invalid);
    expect(() => publicJwkFromPem('rsa-oaep-4096', key('rsa-oaep-3072').publicKeyPem ?? '')).toThrow(invalid);
    expect(() => publicJwkFromPem('ed25519', key('ml-dsa-65').publicKeyPem ?? '')).toThrow(invalid);
    expect(() => publicJwkFromPem('ml-dsa-65', key('ed25519').publicKeyPem ?? '')).toThrow(invalid);
    expect(() => publicJwkFromPem('ed25519', 'not a pem')).toThrow(invalid);
  });
});
