import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CryptoError, forgetPrivateKey, getAlgorithm, publicKeyPem, sign } from '../src/index.js';
import { privateKeyFor } from '../src/node-keys.js';

const message = new TextEncoder().encode('parsed once, signed many times');

function verifiesWith(secretOfSigner: Uint8Array, signature: Uint8Array): boolean {
  const publicKey = createPublicKey(publicKeyPem('ed25519', secretOfSigner) as string);
  return nodeVerify(null, message, publicKey, signature);
}

describe('KeyObjects parsed from secrets', () => {
  it('parses a secret once while its array is unchanged, and again for each algorithm check', () => {
    const { secret } = getAlgorithm('ed25519').generate();
    const first = privateKeyFor('ed25519', secret);
    expect(privateKeyFor('ed25519', secret)).toBe(first);
    // The same bytes in another array: parsed on their own.
    expect(privateKeyFor('ed25519', secret.slice())).not.toBe(first);
    // Checked against another algorithm's shape: refused, never served from the entry.
    expect(() => privateKeyFor('ecdsa-p256', secret)).toThrow(CryptoError);
  });

  it('an array whose bytes changed is parsed again: the signature is by the new key, never the old', () => {
    const a = getAlgorithm('ed25519').generate().secret;
    const b = getAlgorithm('ed25519').generate().secret;
    const held = a.slice();
    expect(verifiesWith(a, sign('ed25519', held, { message }))).toBe(true);
    held.set(b);
    const signature = sign('ed25519', held, { message });
    expect(verifiesWith(b, signature)).toBe(true);
    expect(verifiesWith(a, signature)).toBe(false);
  });

  it('a zeroed secret no longer signs (invalid_key), with or without forgetPrivateKey', () => {
    for (const forget of [true, false]) {
      const { secret } = getAlgorithm('ecdsa-p256').generate();
      sign('ecdsa-p256', secret, { message });
      if (forget) forgetPrivateKey(secret);
      secret.fill(0);
      expect(() => sign('ecdsa-p256', secret, { message })).toThrow(expect.objectContaining({ code: 'invalid_key' }));
    }
  });

  it('forgetPrivateKey drops the entry: the next use parses again', () => {
    const { secret } = getAlgorithm('ed25519').generate();
    const first = privateKeyFor('ed25519', secret);
    forgetPrivateKey(secret);
    const second = privateKeyFor('ed25519', secret);
    expect(second).not.toBe(first);
    expect(second.export({ format: 'jwk' })).toEqual(first.export({ format: 'jwk' }));
  });
});
