import { execFileSync } from 'node:child_process';
import { constants, createHash, createPublicKey, verify as nodeVerify, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyWithPublicKey } from '@keyward/crypto';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { Handle } from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { b64, Harness } from '../support/harness.js';
import { inProcessSoftHsm, openTokenSession } from '../support/softhsm.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const TOKEN = 'keyward-hsmrsa';
const PIN = `pin-${randomUUID()}`;
// The token exists before the seal initializes the library in this process.
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);

/** The class `high` requires hsm; the other classes keep the documented defaults. */
const POLICY = new FixedPolicy(parsePolicy('classes:\n  high:\n    protection: hsm\n'));

/** The software path's RSA-PSS parameters (API.md; crypto signature-schemes.ts). */
const PSS = {
  'rsa-pss-3072': { hash: 'sha256', saltLength: 32, bits: 3072, openssl: '-sha256' },
  'rsa-pss-4096': { hash: 'sha512', saltLength: 64, bits: 4096, openssl: '-sha512' },
} as const;

/** A session of the test's own on the token, to look at it the way an auditor would (the seal's login is per process). */
function inspect() {
  const t = openTokenSession(hsm.library, TOKEN, PIN);
  const { ck, module, session } = t;
  const find = (label: string, objectClass?: number): Handle[] =>
    t.objects([{ type: ck.CKA_LABEL, value: label }, ...(objectClass === undefined ? [] : [{ type: ck.CKA_CLASS, value: objectClass }])]);
  const flag = (handle: Handle, type: number) => module.C_GetAttributeValue(session, handle, [{ type }])[0]?.value?.[0] === 1;
  return { ck, module, session, find, flag, close: () => module.C_CloseSession(session) };
}

const label = (key: Json, version: number) => `keyward:${key.id}:v${version}`;

/** `openssl dgst -verify` with the published PEM, PSS with the algorithm's hash and salt: true when openssl says "Verified OK". */
async function opensslVerifies(algorithm: keyof typeof PSS, pem: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'kw-hsmrsa-openssl-'));
  try {
    const files = { pem: join(dir, 'key.pem'), msg: join(dir, 'msg'), sig: join(dir, 'sig') };
    await writeFile(files.pem, pem);
    await writeFile(files.msg, message);
    await writeFile(files.sig, signature);
    const { openssl, saltLength } = PSS[algorithm];
    try {
      const out = execFileSync(
        'openssl',
        [
          'dgst',
          openssl,
          '-verify',
          files.pem,
          '-sigopt',
          'rsa_padding_mode:pss',
          '-sigopt',
          `rsa_pss_saltlen:${saltLength}`,
          '-sigopt',
          `rsa_mgf1_md:${openssl.slice(1)}`,
          '-signature',
          files.sig,
          files.msg,
        ],
        { stdio: 'pipe' },
      );
      return out.toString().trim() === 'Verified OK';
    } catch {
      return false;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** node:crypto alone, with the exact PSS parameters: salt length fixed, not auto-detected. */
function nodeVerifies(algorithm: keyof typeof PSS, pem: string, message: Uint8Array, signature: Uint8Array): boolean {
  const { hash, saltLength } = PSS[algorithm];
  return nodeVerify(hash, message, { key: pem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
}

/**
 * RSA-PSS keys generated and used in the token (CKM_RSA_PKCS_KEY_PAIR_GEN,
 * CKM_SHA256_RSA_PKCS_PSS / CKM_SHA512_RSA_PKCS_PSS) through the real REST
 * app on the PKCS#11 seal over SoftHSM2: signatures verify through Keyward,
 * node:crypto and openssl with the software path's parameters.
 */
describe.each(STORE_KINDS)('hsm-protected RSA-PSS keys (pkcs11 seal, SoftHSM2, %s)', (store) => {
  let h: Harness;
  let token: ReturnType<typeof inspect>;

  beforeAll(async () => {
    h = await Harness.start({
      store,
      seal: 'pkcs11',
      pkcs11: { options: { library: hsm.library, token: TOKEN, keyLabel: `keyward-root-${store}`, pinFile: null }, pin: PIN },
      policy: POLICY,
    });
    token = inspect();
  });

  afterAll(async () => {
    token.close();
    await h.close();
  });

  const sign = (name: string, message: Uint8Array) => h.call('POST', `/v1/keys/${name}/sign`, { message: b64(message) });

  it('rsa-pss-3072: a sign-only, sensitive, non-extractable private key in the token; its public key is published', async () => {
    const key = await h.createKey('rsa-signer', 'rsa-pss-3072', { protection: 'hsm' });
    expect(key).toMatchObject({ protection: 'hsm', algorithm: 'rsa-pss-3072', primaryVersion: 1 });
    const pem = key.versions[0].publicKey as string;
    const publicKey = createPublicKey(pem);
    expect(publicKey.asymmetricKeyType).toBe('rsa');
    expect(publicKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 3072, publicExponent: 65537n });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    expect(key.versions[0].fingerprint).toBe(`sha256:${createHash('sha256').update(spki).digest('hex')}`);

    const { ck, module } = token;
    const [privateKey, ...more] = token.find(label(key, 1), ck.CKO_PRIVATE_KEY);
    expect(more).toEqual([]);
    if (privateKey === undefined) throw new Error('no private key in the token');
    expect(token.flag(privateKey, ck.CKA_TOKEN)).toBe(true);
    expect(token.flag(privateKey, ck.CKA_SENSITIVE)).toBe(true);
    expect(token.flag(privateKey, ck.CKA_EXTRACTABLE)).toBe(false);
    expect(token.flag(privateKey, ck.CKA_SIGN)).toBe(true);
    expect(token.flag(privateKey, ck.CKA_DECRYPT)).toBe(false);
    expect(token.flag(privateKey, ck.CKA_UNWRAP)).toBe(false);
    for (const secret of [ck.CKA_PRIVATE_EXPONENT, ck.CKA_PRIME_1, ck.CKA_PRIME_2, ck.CKA_VALUE]) {
      expect(() => module.C_GetAttributeValue(token.session, privateKey, [{ type: secret }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE|CKR_ATTRIBUTE_TYPE_INVALID/,
      );
    }
    expect(() => module.C_GetAttributeValue(token.session, privateKey, [{ type: ck.CKA_PRIVATE_EXPONENT }])).toThrow(
      'CKR_ATTRIBUTE_SENSITIVE',
    );
    // The public object carries the published modulus; the store holds the objects' CKA_ID, not key bytes.
    const [publicObject] = token.find(label(key, 1), ck.CKO_PUBLIC_KEY);
    if (publicObject === undefined) throw new Error('no public key in the token');
    const modulus = module.C_GetAttributeValue(token.session, publicObject, [{ type: ck.CKA_MODULUS }])[0]?.value;
    expect(modulus?.toString('base64url')).toBe(publicKey.export({ format: 'jwk' }).n);
    const [stored] = await h.store.getVersions(key.id);
    const id = module.C_GetAttributeValue(token.session, privateKey, [{ type: ck.CKA_ID }])[0]?.value;
    expect(Buffer.from(stored?.material ?? [])).toEqual(id);
    expect(stored?.material).toHaveLength(16);

    const published = await h.call('GET', '/v1/keys/rsa-signer/public-key');
    expect(published.status, JSON.stringify(published.body)).toBe(200);
    expect(published.body.publicKey).toBe(pem);
    expect(published.body.jwk).toMatchObject({ kty: 'RSA', e: 'AQAB', n: modulus?.toString('base64url') });
    const jwks = await h.call('GET', '/v1/keys/rsa-signer/jwks');
    expect(jwks.status, JSON.stringify(jwks.body)).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'RSA', e: 'AQAB', n: modulus?.toString('base64url') });
  });

  it('rsa-pss-3072: signs in the token; Keyward, node:crypto, the software verify path and openssl verify it; a changed message fails', async () => {
    const key = await h.createKey('rsa-release', 'rsa-pss-3072', { protection: 'hsm' });
    const pem = key.versions[0].publicKey as string;
    const message = Buffer.from('release 2.0.0');
    const signed = await sign('rsa-release', message);
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body.keyVersion).toBe(1);
    const signature = Buffer.from(signed.body.signature, 'base64');
    expect(signature).toHaveLength(3072 / 8);

    expect(nodeVerifies('rsa-pss-3072', pem, message, signature)).toBe(true);
    expect(verifyWithPublicKey('rsa-pss-3072', pem, { message }, signature)).toBe(true);
    expect(await opensslVerifies('rsa-pss-3072', pem, message, signature)).toBe(true);
    const checked = await h.call('POST', '/v1/keys/rsa-release/verify', { message: b64(message), signature: signed.body.signature });
    expect(checked.body).toMatchObject({ valid: true, keyVersion: 1 });

    const other = Buffer.from('release 2.0.1');
    expect(nodeVerifies('rsa-pss-3072', pem, other, signature)).toBe(false);
    expect(await opensslVerifies('rsa-pss-3072', pem, other, signature)).toBe(false);
    const wrong = await h.call('POST', '/v1/keys/rsa-release/verify', { message: b64(other), signature: signed.body.signature });
    expect(wrong.body).toMatchObject({ valid: false, keyVersion: null });
    // PSS is randomized (a fresh salt each time): two signatures differ, both verify.
    const again = Buffer.from((await sign('rsa-release', message)).body.signature, 'base64');
    expect(again.equals(signature)).toBe(false);
    expect(nodeVerifies('rsa-pss-3072', pem, message, again)).toBe(true);
    // The empty message signs too (a NULL-free buffer for the token).
    const empty = await sign('rsa-release', new Uint8Array(0));
    expect(empty.status, JSON.stringify(empty.body)).toBe(200);
    expect(nodeVerifies('rsa-pss-3072', pem, new Uint8Array(0), Buffer.from(empty.body.signature, 'base64'))).toBe(true);
  });

  it('a digest is refused as on the software path, naming the field; nothing is signed', async () => {
    await h.createKey('rsa-digest', 'rsa-pss-3072', { protection: 'hsm' });
    const digest = createHash('sha256').update('x').digest();
    const r = await h.call('POST', '/v1/keys/rsa-digest/sign', { digest: digest.toString('base64') });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_request', message: 'digest: rsa-pss-3072 signs messages, not digests' });
    await h.createKey('rsa-digest-soft', 'rsa-pss-3072');
    const soft = await h.call('POST', '/v1/keys/rsa-digest-soft/sign', { digest: digest.toString('base64') });
    expect(soft.body.error).toMatchObject({ code: r.body.error.code, message: r.body.error.message });
  });

  it('rsa-pss-4096: SHA-512 with a 64-byte salt in the token, verified by node:crypto, the software verify path and openssl', async () => {
    const key = await h.createKey('rsa-big', 'rsa-pss-4096', { protection: 'hsm' });
    const pem = key.versions[0].publicKey as string;
    expect(createPublicKey(pem).asymmetricKeyDetails?.modulusLength).toBe(4096);
    const message = Buffer.from('firmware image 7');
    const signed = await sign('rsa-big', message);
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    const signature = Buffer.from(signed.body.signature, 'base64');
    expect(signature).toHaveLength(4096 / 8);
    expect(nodeVerifies('rsa-pss-4096', pem, message, signature)).toBe(true);
    expect(verifyWithPublicKey('rsa-pss-4096', pem, { message }, signature)).toBe(true);
    expect(await opensslVerifies('rsa-pss-4096', pem, message, signature)).toBe(true);
    // SHA-256 / salt 32 is not this algorithm's scheme: the token used SHA-512 / salt 64.
    expect(nodeVerify('sha256', message, { key: pem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)).toBe(false);
    const checked = await h.call('POST', '/v1/keys/rsa-big/verify', { message: b64(message), signature: signed.body.signature });
    expect(checked.body).toMatchObject({ valid: true, keyVersion: 1 });
  });

  it('the token signature and a software signature verify alike: a software key of the same algorithm checks with the same code', async () => {
    const soft = await h.createKey('rsa-soft', 'rsa-pss-3072');
    expect(soft.protection).toBe('software');
    const message = Buffer.from('same scheme');
    const fromSoftware = Buffer.from((await sign('rsa-soft', message)).body.signature, 'base64');
    // The software signature passes the same node:crypto check with the same fixed parameters as the token's.
    expect(nodeVerifies('rsa-pss-3072', soft.versions[0].publicKey as string, message, fromSoftware)).toBe(true);
    const hsmKey = await h.createKey('rsa-hsm-twin', 'rsa-pss-3072', { protection: 'hsm' });
    const fromToken = Buffer.from((await sign('rsa-hsm-twin', message)).body.signature, 'base64');
    // And the crypto package's verify (the software keys' path) accepts the token's signature with its public key.
    expect(verifyWithPublicKey('rsa-pss-3072', hsmKey.versions[0].publicKey as string, { message }, fromToken)).toBe(true);
  });

  it('rotation makes a new token pair; the old version still verifies; destroying it removes both its objects', async () => {
    const key = await h.createKey('rsa-rotating', 'rsa-pss-3072', { protection: 'hsm' });
    const message = Buffer.from('before rotation');
    const v1 = await sign('rsa-rotating', message);
    expect((await h.call('POST', '/v1/keys/rsa-rotating/rotate', { reason: 'quarterly' })).status).toBe(200);
    expect(token.find(label(key, 1))).toHaveLength(2);
    expect(token.find(label(key, 2))).toHaveLength(2);
    const after = await h.call('GET', '/v1/keys/rsa-rotating');
    const [first, second] = after.body.versions as Json[];
    expect(second?.publicKey).not.toBe(first?.publicKey);
    expect(second?.fingerprint).not.toBe(first?.fingerprint);
    const v2 = await sign('rsa-rotating', message);
    expect(v2.body.keyVersion).toBe(2);
    expect(nodeVerifies('rsa-pss-3072', second?.publicKey, message, Buffer.from(v2.body.signature, 'base64'))).toBe(true);
    const old = await h.call('POST', '/v1/keys/rsa-rotating/verify', { message: b64(message), signature: v1.body.signature });
    expect(old.body).toMatchObject({ valid: true, keyVersion: 1 });

    expect((await h.call('POST', '/v1/keys/rsa-rotating/versions/1/deactivate')).status).toBe(200);
    const destroyed = await h.call('POST', '/v1/keys/rsa-rotating/versions/1/destroy');
    expect(destroyed.status, JSON.stringify(destroyed.body)).toBe(200);
    expect(token.find(label(key, 1))).toEqual([]);
    expect(token.find(label(key, 2))).toHaveLength(2);
    const [stored] = await h.store.getVersions(key.id);
    expect(stored).toMatchObject({ version: 1, state: 'destroyed', material: null });
    // A destroyed version's public key is gone with it, as for a software key: its signatures no longer verify.
    const gone = await h.call('POST', '/v1/keys/rsa-rotating/verify', { message: b64(message), signature: v1.body.signature });
    expect(gone.body.valid).toBe(false);
  });

  it('a class requiring hsm generates its RSA keys in the token; exportable is refused, writing nothing', async () => {
    const byClass = await h.createKey('rsa-class', 'rsa-pss-3072', { class: 'high' });
    expect(byClass).toMatchObject({ class: 'high', protection: 'hsm' });
    expect(token.find(label(byClass, 1))).toHaveLength(2);
    const exportable = await h.call('POST', '/v1/keys', {
      name: 'rsa-export',
      algorithm: 'rsa-pss-4096',
      owner: 'team-test',
      protection: 'hsm',
      exportable: true,
    });
    expect(exportable.status).toBe(400);
    expect(exportable.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'exportable: an hsm key never leaves the token and cannot be exportable',
    });
    expect((await h.call('GET', '/v1/keys/rsa-export')).status).toBe(404);
    const oaep = await h.call('POST', '/v1/keys', { name: 'rsa-oaep', algorithm: 'rsa-oaep-3072', owner: 'team-test', protection: 'hsm' });
    expect(oaep.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'protection: hsm supports only aes-256-gcm, ecdsa-p256, rsa-pss-3072, rsa-pss-4096 so far, not rsa-oaep-3072',
    });
  });
});

describe('hsm-protected RSA keys on a file-seal server', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ policy: POLICY });
  });

  afterAll(async () => h.close());

  it('are refused with a message naming the seal, or as a policy violation when the class asks; nothing is written', async () => {
    for (const algorithm of ['rsa-pss-3072', 'rsa-pss-4096']) {
      const asked = await h.call('POST', '/v1/keys', { name: 'r', algorithm, owner: 'team-test', protection: 'hsm' });
      expect(asked.status).toBe(400);
      expect(asked.body.error).toMatchObject({
        code: 'invalid_request',
        message: 'protection: hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the file seal',
      });
    }
    const byClass = await h.call('POST', '/v1/keys', { name: 'r', algorithm: 'rsa-pss-3072', owner: 'team-test', class: 'high' });
    expect(byClass.status).toBe(400);
    expect(byClass.body.error).toMatchObject({
      code: 'policy_violation',
      message:
        'protection: class high requires hsm (classes.high.protection), but hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the file seal',
    });
    expect((await h.call('GET', '/v1/keys/r')).status).toBe(404);
  });
});

describe('a scheduled backup with its restore drill on the pkcs11 seal', () => {
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-hsmrsa-drill-'));
    const identity = await generateIdentity();
    const identityFile = join(dir, 'verify.key');
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    const policy = parsePolicy(
      `backups:\n  directory: ${join(dir, 'archives')}\n  recipients: [${await identityToRecipient(identity)}]\n  verify:\n    identityFile: ${identityFile}\n`,
    );
    h = await Harness.start({
      seal: 'pkcs11',
      pkcs11: { options: { library: hsm.library, token: TOKEN, keyLabel: 'keyward-root-drill', pinFile: null }, pin: PIN },
      policy: new FixedPolicy(policy),
    });
  });

  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('proves the software versions by known answer and counts the RSA version as a token reference', async () => {
    await h.createKey('drill-soft', 'aes-256-gcm');
    await h.createKey('drill-rsa', 'rsa-pss-3072', { protection: 'hsm' });
    const run = await h.keyward.scheduledBackups.runOnce();
    expect(run).toMatchObject({
      ran: true,
      drill: { ok: true, details: { versionsChecked: 1, versionsPassed: 1, versionsFailed: 0, versionsInToken: 1, auditValid: true } },
    });
    expect(await readdir(join(dir, 'archives'))).toHaveLength(1);
  });
});
