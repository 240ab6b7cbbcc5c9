/**
 * Interoperability with the OpenSSL command line: signatures Keyward makes
 * must verify with `openssl`, and what `openssl` makes must verify or decrypt
 * in Keyward, with API.md's parameters. ML-DSA-65 is not covered here:
 * OpenSSL gained it only in 3.5 (the CI image has 3.0); Wycheproof's ML-DSA
 * vectors and the SPKI comparison cover it instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlgorithmName } from '@keyward/wire';
import { afterAll, describe, expect, it } from 'vitest';
import { asymmetricDecrypt } from '../src/asymmetric-encrypt.js';
import { fingerprint } from '../src/fingerprint.js';
import { getAlgorithm } from '../src/registry.js';
import { sign, verifyWithPublicKey } from '../src/sign.js';

const dir = mkdtempSync(join(tmpdir(), 'keyward-openssl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/** Exit status and combined output of an openssl run (argument array, no shell). */
function openssl(args: string[]): { status: number | null; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** `openssl` arguments verifying `sig` over `msg` with `pub`, per algorithm. */
const VERIFY_ARGS: Readonly<Record<string, (pub: string, msg: string, sig: string) => string[]>> = {
  ed25519: (pub, msg, sig) => ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', msg, '-sigfile', sig],
  'ecdsa-p256': (pub, msg, sig) => ['dgst', '-sha256', '-verify', pub, '-signature', sig, msg],
  'ecdsa-p384': (pub, msg, sig) => ['dgst', '-sha384', '-verify', pub, '-signature', sig, msg],
  'rsa-pss-3072': (pub, msg, sig) => [
    'dgst',
    '-sha256',
    '-verify',
    pub,
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:32',
    '-sigopt',
    'rsa_mgf1_md:sha256',
    '-signature',
    sig,
    msg,
  ],
  'rsa-pss-4096': (pub, msg, sig) => [
    'dgst',
    '-sha512',
    '-verify',
    pub,
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:64',
    '-sigopt',
    'rsa_mgf1_md:sha512',
    '-signature',
    sig,
    msg,
  ],
};

/** `openssl` arguments signing `msg` with the private key `key`. */
const SIGN_ARGS: Readonly<Record<string, (key: string, msg: string, out: string) => string[]>> = {
  ed25519: (key, msg, out) => ['pkeyutl', '-sign', '-inkey', key, '-rawin', '-in', msg, '-out', out],
  'ecdsa-p256': (key, msg, out) => ['dgst', '-sha256', '-sign', key, '-out', out, msg],
  'ecdsa-p384': (key, msg, out) => ['dgst', '-sha384', '-sign', key, '-out', out, msg],
  'rsa-pss-3072': (key, msg, out) => [
    'dgst',
    '-sha256',
    '-sign',
    key,
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:32',
    '-out',
    out,
    msg,
  ],
  'rsa-pss-4096': (key, msg, out) => [
    'dgst',
    '-sha512',
    '-sign',
    key,
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:64',
    '-out',
    out,
    msg,
  ],
};

function pkcs8Pem(secret: Uint8Array): string {
  return createPrivateKey({ key: Buffer.from(secret), format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

describe('openssl interop', () => {
  it('openssl is available', () => {
    expect(openssl(['version']).status).toBe(0);
  });

  for (const alg of Object.keys(VERIFY_ARGS) as AlgorithmName[]) {
    it(`${alg}: Keyward signs, openssl verifies; a flipped signature fails; openssl signs, Keyward verifies; fingerprint = SHA-256(SPKI)`, () => {
      const { secret, publicKeyPem } = getAlgorithm(alg).generate();
      const pub = file(`${alg}.pub.pem`, publicKeyPem ?? '');
      const msg = file(`${alg}.msg`, Buffer.from(`interop message for ${alg}\n`));
      const signature = sign(alg, secret, { message: readFileSync(msg) });
      const verifyArgs = VERIFY_ARGS[alg];
      if (verifyArgs === undefined) throw new Error(alg);

      const good = openssl(verifyArgs(pub, msg, file(`${alg}.sig`, signature)));
      expect(good.output).toMatch(/Verified OK|Signature Verified Successfully/);
      expect(good.status).toBe(0);

      const flipped = Uint8Array.from(signature);
      flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 0x01;
      const bad = openssl(verifyArgs(pub, msg, file(`${alg}.bad.sig`, flipped)));
      expect(bad.status).not.toBe(0);
      expect(bad.output).not.toMatch(/Verified OK|Signature Verified Successfully/);

      const key = file(`${alg}.key.pem`, pkcs8Pem(secret));
      const out = join(dir, `${alg}.openssl.sig`);
      execFileSync('openssl', SIGN_ARGS[alg]?.(key, msg, out) ?? [], { stdio: 'pipe' });
      expect(verifyWithPublicKey(alg, publicKeyPem ?? '', { message: readFileSync(msg) }, readFileSync(out))).toBe(true);

      const der = execFileSync('openssl', ['pkey', '-pubin', '-in', pub, '-outform', 'DER']);
      expect(fingerprint(alg, secret)).toBe(`sha256:${createHash('sha256').update(der).digest('hex')}`);
    });
  }

  for (const [alg, bits] of [
    ['rsa-oaep-3072', 3072],
    ['rsa-oaep-4096', 4096],
  ] as const) {
    it(`${alg}: openssl encrypts with OAEP SHA-256/MGF1-SHA-256 and a label, Keyward decrypts`, () => {
      const { secret, publicKeyPem } = getAlgorithm(alg).generate();
      const pub = file(`${alg}.pub.pem`, publicKeyPem ?? '');
      const plaintext = file(`${alg}.pt`, Buffer.from('a 32-byte data key, more or less'));
      const out = join(dir, `${alg}.ct`);
      const label = Buffer.from('keyward label');
      execFileSync('openssl', [
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-inkey',
        pub,
        '-in',
        plaintext,
        '-out',
        out,
        '-pkeyopt',
        'rsa_padding_mode:oaep',
        '-pkeyopt',
        'rsa_oaep_md:sha256',
        '-pkeyopt',
        'rsa_mgf1_md:sha256',
        '-pkeyopt',
        `rsa_oaep_label:${label.toString('hex')}`,
      ]);
      const ct = readFileSync(out);
      expect(ct.length).toBe(bits / 8);
      expect(Buffer.from(asymmetricDecrypt(alg, secret, ct, label)).toString()).toBe('a 32-byte data key, more or less');
      expect(() => asymmetricDecrypt(alg, secret, ct, new Uint8Array())).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    });
  }
});
