/**
 * BYOK key transport against the OpenSSL command line and @noble's ML-KEM:
 * what an operator wraps with `openssl` imports, and what Keyward wraps for
 * a recipient unwraps with `openssl` (docs/transit.md).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  aesKwpUnwrap,
  aesKwpWrap,
  mlKem768Spki,
  mlKemKwpKey,
  parseRecipientKey,
  unwrapImported,
  wrapForRecipient,
} from '../src/key-transport.js';

const dir = mkdtempSync(join(tmpdir(), 'keyward-transport-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const path = (name: string): string => join(dir, name);
function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
}
const OAEP = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'];

const wrapping = generateKeyPairSync('rsa', { modulusLength: 4096 });
writeFileSync(path('wrapping.pem'), wrapping.publicKey.export({ type: 'spki', format: 'pem' }));

describe('AES-KWP (RFC 5649)', () => {
  it('equals openssl enc -id-aes256-wrap-pad and unwraps what it makes', () => {
    for (const length of [1, 7, 8, 32, 64, 1217]) {
      const kek = randomBytes(32);
      const data = randomBytes(length);
      writeFileSync(path('data.bin'), data);
      openssl(['enc', '-id-aes256-wrap-pad', '-K', kek.toString('hex'), '-iv', 'A65959A6', '-in', path('data.bin'), '-out', path('w.bin')]);
      const theirs = readFileSync(path('w.bin'));
      expect(Buffer.from(aesKwpWrap(kek, data)).equals(theirs)).toBe(true);
      expect(Buffer.from(aesKwpUnwrap(kek, theirs)).equals(data)).toBe(true);
    }
  });

  it('refuses a flipped bit, a wrong key and a truncated blob alike', () => {
    const kek = randomBytes(32);
    const wrapped = aesKwpWrap(kek, randomBytes(32));
    const flipped = Uint8Array.from(wrapped);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    expect(() => aesKwpUnwrap(kek, flipped)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    expect(() => aesKwpUnwrap(randomBytes(32), wrapped)).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    expect(() => aesKwpUnwrap(kek, wrapped.subarray(0, 20))).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
  });
});

describe('import: material an operator wrapped with openssl', () => {
  it('RSAES_OAEP_SHA_256', () => {
    const material = randomBytes(32);
    writeFileSync(path('m.bin'), material);
    openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', path('wrapping.pem'), ...OAEP, '-in', path('m.bin'), '-out', path('oaep.bin')]);
    const blob = readFileSync(path('oaep.bin'));
    expect(Buffer.from(unwrapImported('RSAES_OAEP_SHA_256', wrapping.privateKey, blob)).equals(material)).toBe(true);
  });

  it('RSA_AES_KEY_WRAP_SHA_256, and a tampered blob is refused', () => {
    const material = randomBytes(64);
    const ephemeral = randomBytes(32);
    writeFileSync(path('m.bin'), material);
    writeFileSync(path('e.bin'), ephemeral);
    openssl(['pkeyutl', '-encrypt', '-pubin', '-inkey', path('wrapping.pem'), ...OAEP, '-in', path('e.bin'), '-out', path('head.bin')]);
    openssl([
      'enc',
      '-id-aes256-wrap-pad',
      '-K',
      ephemeral.toString('hex'),
      '-iv',
      'A65959A6',
      '-in',
      path('m.bin'),
      '-out',
      path('tail.bin'),
    ]);
    const blob = Buffer.concat([readFileSync(path('head.bin')), readFileSync(path('tail.bin'))]);
    expect(Buffer.from(unwrapImported('RSA_AES_KEY_WRAP_SHA_256', wrapping.privateKey, blob)).equals(material)).toBe(true);
    for (const at of [3, blob.length - 3]) {
      const tampered = Buffer.from(blob);
      tampered[at] = (tampered[at] ?? 0) ^ 0x40;
      expect(() => unwrapImported('RSA_AES_KEY_WRAP_SHA_256', wrapping.privateKey, tampered)).toThrow(
        expect.objectContaining({ code: 'decrypt_failed' }),
      );
    }
    // The whole blob given as the other algorithm: refused the same way.
    expect(() => unwrapImported('RSAES_OAEP_SHA_256', wrapping.privateKey, blob)).toThrow(
      expect.objectContaining({ code: 'decrypt_failed' }),
    );
  });
});

describe('export: wrapped for a recipient', () => {
  it('RSA_AES_KEY_WRAP_SHA_256 unwraps with openssl pkeyutl and enc', () => {
    const recipient = generateKeyPairSync('rsa', { modulusLength: 3072 });
    writeFileSync(path('r.key'), recipient.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const material = randomBytes(32);
    const pem = recipient.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const blob = wrapForRecipient(parseRecipientKey('RSA_AES_KEY_WRAP_SHA_256', pem), material);
    writeFileSync(path('head.bin'), blob.subarray(0, 384));
    writeFileSync(path('tail.bin'), blob.subarray(384));
    openssl(['pkeyutl', '-decrypt', '-inkey', path('r.key'), ...OAEP, '-in', path('head.bin'), '-out', path('e.bin')]);
    const ephemeral = readFileSync(path('e.bin'));
    expect(ephemeral).toHaveLength(32);
    openssl([
      'enc',
      '-d',
      '-id-aes256-wrap-pad',
      '-K',
      ephemeral.toString('hex'),
      '-iv',
      'A65959A6',
      '-in',
      path('tail.bin'),
      '-out',
      path('m.bin'),
    ]);
    expect(readFileSync(path('m.bin')).equals(material)).toBe(true);
  });

  it('ML_KEM_768_AES_KWP unwraps with @noble ml_kem768 and HKDF-SHA-256', () => {
    const { publicKey, secretKey } = ml_kem768.keygen();
    const pem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(mlKem768Spki(publicKey)).toString('base64')}\n-----END PUBLIC KEY-----\n`;
    const material = randomBytes(64);
    const blob = wrapForRecipient(parseRecipientKey('ML_KEM_768_AES_KWP', pem), material);
    const shared = ml_kem768.decapsulate(blob.subarray(0, 1088), secretKey);
    expect(Buffer.from(aesKwpUnwrap(mlKemKwpKey(shared), blob.subarray(1088))).equals(material)).toBe(true);
  });

  it('refuses recipient keys that are short, of another type, or not PEM', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = wrapping.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parseRecipientKey('RSA_AES_KEY_WRAP_SHA_256', small)).toThrow(/1024 bits; at least 2048/);
    expect(() => parseRecipientKey('RSA_AES_KEY_WRAP_SHA_256', ec)).toThrow(/not an RSA public key/);
    expect(() => parseRecipientKey('RSA_AES_KEY_WRAP_SHA_256', 'hello')).toThrow(/PEM/);
    expect(() => parseRecipientKey('ML_KEM_768_AES_KWP', rsa)).toThrow(/not an ML-KEM-768/);
  });
});
