import { createHash, createPublicKey, verify as nodeVerify, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptCiphertextWith, encryptToCiphertextWith, parseCiphertext } from '@keyward/crypto';
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import type { Handle } from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeArchive } from '../../src/backup/archive-writer.js';
import { verifyArchive } from '../../src/backup/verify.js';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { b64, Harness } from '../support/harness.js';
import { inProcessSoftHsm, openTokenSession } from '../support/softhsm.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const TOKEN = 'keyward-hsmkeys';
const PIN = `pin-${randomUUID()}`;
// The token exists before the seal initializes the library in this process.
const hsm = inProcessSoftHsm([{ label: TOKEN, pin: PIN }]);

/** The class `high` requires hsm; the other classes keep the documented defaults. */
const POLICY = new FixedPolicy(parsePolicy('classes:\n  high:\n    protection: hsm\n'));

/** A session of the test's own on the token, to look at it the way an auditor would (the seal's login is per process). */
function inspect() {
  const t = openTokenSession(hsm.library, TOKEN, PIN);
  const { ck, module, session } = t;
  const find = (label: string, objectClass?: number): Handle[] =>
    t.objects([{ type: ck.CKA_LABEL, value: label }, ...(objectClass === undefined ? [] : [{ type: ck.CKA_CLASS, value: objectClass }])]);
  const flag = (handle: Handle, type: number) => module.C_GetAttributeValue(session, handle, [{ type }])[0]?.value?.[0] === 1;
  /** AES-GCM in the token with the object, as any PKCS#11 client would call it. */
  const gcm = (iv: Uint8Array, aad: Uint8Array) => ({
    mechanism: ck.CKM_AES_GCM,
    parameter: { type: ck.CK_PARAMS_GCM, iv: Buffer.from(iv), ivBits: 96, aad: Buffer.from(aad), tagBits: 128 },
  });
  const encrypt = (key: Handle, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) => {
    module.C_EncryptInit(session, gcm(iv, aad), key);
    return new Uint8Array(module.C_Encrypt(session, Buffer.from(plaintext), Buffer.alloc(plaintext.length + 16)));
  };
  const decrypt = (key: Handle, iv: Uint8Array, body: Uint8Array, aad: Uint8Array): Uint8Array | null => {
    module.C_DecryptInit(session, gcm(iv, aad), key);
    try {
      return new Uint8Array(module.C_Decrypt(session, Buffer.from(body), Buffer.alloc(body.length)));
    } catch {
      return null;
    }
  };
  return { ck, module, session, find, flag, encrypt, decrypt, close: () => module.C_CloseSession(session) };
}

const label = (key: Json, version: number) => `keyward:${key.id}:v${version}`;

/**
 * HSM-resident keys through the real REST app on a server whose seal is the
 * PKCS#11 seal on a SoftHSM2 token: versions are generated in the token as
 * non-extractable objects, encrypt and decrypt run there, ciphertexts have the
 * software path's format, destroying a version destroys its object.
 */
describe.each(STORE_KINDS)('hsm-protected keys (pkcs11 seal, SoftHSM2, %s)', (store) => {
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

  const encrypt = (name: string, text: string, context: Record<string, string> = {}) =>
    h.call('POST', `/v1/keys/${name}/encrypt`, { plaintext: b64(text), context });
  const decrypt = (name: string, ciphertext: string, context: Record<string, string> = {}) =>
    h.call('POST', `/v1/keys/${name}/decrypt`, { ciphertext, context });

  it('creates the version in the token as a sensitive, non-extractable object whose value cannot be read', async () => {
    const key = await h.createKey('vault-1', 'aes-256-gcm', { protection: 'hsm' });
    expect(key).toMatchObject({ protection: 'hsm', primaryVersion: 1 });
    expect(key.versions[0].fingerprint).toMatch(/^pkcs11-id:[0-9a-f]{32}$/);
    expect((await h.call('GET', '/v1/keys/vault-1')).body.protection).toBe('hsm');

    const [object, ...others] = token.find(label(key, 1));
    expect(others).toEqual([]);
    if (object === undefined) throw new Error('no object in the token');
    const { ck, module } = token;
    expect(token.flag(object, ck.CKA_TOKEN)).toBe(true);
    expect(token.flag(object, ck.CKA_SENSITIVE)).toBe(true);
    expect(token.flag(object, ck.CKA_EXTRACTABLE)).toBe(false);
    expect(() => module.C_GetAttributeValue(token.session, object, [{ type: ck.CKA_VALUE }])).toThrow('CKR_ATTRIBUTE_SENSITIVE');
    // The store holds the object's CKA_ID, not wrapped key bytes.
    const [stored] = await h.store.getVersions(key.id);
    const id = module.C_GetAttributeValue(token.session, object, [{ type: ck.CKA_ID }])[0]?.value;
    expect(Buffer.from(stored?.material ?? [])).toEqual(id);
    expect(key.versions[0].fingerprint).toBe(`pkcs11-id:${id?.toString('hex')}`);
  });

  it('encrypts and decrypts in the token, with the encryption context bound; a wrong context is refused opaquely', async () => {
    await h.createKey('vault-2', 'aes-256-gcm', { protection: 'hsm' });
    const sealed = await encrypt('vault-2', 'card 4111', { tenant: 'acme' });
    expect(sealed.status, JSON.stringify(sealed.body)).toBe(200);
    expect(sealed.body.keyVersion).toBe(1);
    const opened = await decrypt('vault-2', sealed.body.ciphertext, { tenant: 'acme' });
    expect(opened.status, JSON.stringify(opened.body)).toBe(200);
    expect(Buffer.from(opened.body.plaintext, 'base64').toString()).toBe('card 4111');
    const wrong = await decrypt('vault-2', sealed.body.ciphertext, { tenant: 'other' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe('invalid_ciphertext');
    const dataKey = await h.call('POST', '/v1/keys/vault-2/data-key', { bytes: 32 });
    expect(dataKey.status, JSON.stringify(dataKey.body)).toBe(200);
    const unwrapped = await decrypt('vault-2', dataKey.body.ciphertext);
    expect(unwrapped.body.plaintext).toBe(dataKey.body.plaintext);
  });

  it('ciphertexts have the software format: the crypto package parses them, and they are AES-GCM over header ‖ context', async () => {
    const key = await h.createKey('vault-3', 'aes-256-gcm', { protection: 'hsm' });
    const soft = await h.createKey('soft-3', 'aes-256-gcm');
    expect(soft.protection).toBe('software');
    const context = { order: '17' };
    const fromHsm = (await encrypt('vault-3', 'same text', context)).body.ciphertext as string;
    const fromSoftware = (await encrypt('soft-3', 'same text', context)).body.ciphertext as string;
    expect(fromHsm.startsWith('kw1:')).toBe(true);
    expect(fromHsm.length).toBe(fromSoftware.length);
    const parsed = parseCiphertext(fromHsm);
    expect(parsed).toMatchObject({ formatVersion: 1, keyId: key.id, keyVersion: 1, algorithm: 'aes-256-gcm' });
    expect(parsed.nonce).toHaveLength(12);
    expect(parsed.body).toHaveLength('same text'.length + 16);

    // Decrypted outside Keyward, by a plain PKCS#11 client with the object and the crypto package's framing.
    const [object] = token.find(label(key, 1));
    if (object === undefined) throw new Error('no object in the token');
    const plain = decryptCiphertextWith(parsed, context, (iv, body, aad) => token.decrypt(object, iv, body, aad));
    expect(Buffer.from(plain).toString()).toBe('same text');
    // And the other way: a ciphertext framed by the crypto package, encrypted by that client, decrypts through the API.
    const header = { keyId: key.id, keyVersion: 1, algorithm: 'aes-256-gcm' as const };
    const outside = encryptToCiphertextWith(header, Buffer.from('from outside'), context, (iv, p, aad) =>
      token.encrypt(object, iv, p, aad),
    );
    const opened = await decrypt('vault-3', outside, context);
    expect(opened.status, JSON.stringify(opened.body)).toBe(200);
    expect(Buffer.from(opened.body.plaintext, 'base64').toString()).toBe('from outside');
    // A ciphertext of the software key is not one of this key's.
    expect((await decrypt('vault-3', fromSoftware, context)).body.error.code).toBe('invalid_ciphertext');
  });

  it('rotates into a new token object; old versions still decrypt; rewrap moves to the primary; destroying a version destroys its object', async () => {
    const key = await h.createKey('vault-4', 'aes-256-gcm', { protection: 'hsm' });
    const v1 = (await encrypt('vault-4', 'before rotation')).body.ciphertext as string;
    const rotated = await h.call('POST', '/v1/keys/vault-4/rotate', { reason: 'quarterly' });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body.primaryVersion).toBe(2);
    expect(token.find(label(key, 2))).toHaveLength(1);
    const v2 = await encrypt('vault-4', 'after rotation');
    expect(v2.body.keyVersion).toBe(2);
    const old = await decrypt('vault-4', v1);
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    expect(old.body.keyVersion).toBe(1);
    expect(Buffer.from(old.body.plaintext, 'base64').toString()).toBe('before rotation');
    const rewrapped = await h.call('POST', '/v1/keys/vault-4/rewrap', { ciphertext: v1 });
    expect(rewrapped.status, JSON.stringify(rewrapped.body)).toBe(200);
    expect(parseCiphertext(rewrapped.body.ciphertext).keyVersion).toBe(2);

    expect((await h.call('POST', '/v1/keys/vault-4/versions/1/deactivate')).status).toBe(200);
    const destroyed = await h.call('POST', '/v1/keys/vault-4/versions/1/destroy');
    expect(destroyed.status, JSON.stringify(destroyed.body)).toBe(200);
    expect(token.find(label(key, 1))).toEqual([]);
    expect(token.find(label(key, 2))).toHaveLength(1);
    const [stored] = await h.store.getVersions(key.id);
    expect(stored).toMatchObject({ version: 1, state: 'destroyed', material: null });
    // As for a software key: a destroyed version is a state, not a bad ciphertext.
    const gone = await decrypt('vault-4', v1);
    expect(gone.status).toBe(409);
    expect(gone.body.error.code).toBe('invalid_state');
    const current = await decrypt('vault-4', rewrapped.body.ciphertext);
    expect(Buffer.from(current.body.plaintext, 'base64').toString()).toBe('before rotation');
  });

  it('ecdsa-p256: signs in the token, DER like the software path; node:crypto verifies with the exported public key', async () => {
    const key = await h.createKey('signer', 'ecdsa-p256', { protection: 'hsm' });
    expect(key.protection).toBe('hsm');
    const pem = key.versions[0].publicKey as string;
    const spki = createPublicKey(pem).export({ format: 'der', type: 'spki' });
    expect(key.versions[0].fingerprint).toBe(`sha256:${createHash('sha256').update(spki).digest('hex')}`);
    const [privateKey, ...others] = token.find(label(key, 1), token.ck.CKO_PRIVATE_KEY);
    expect(others).toEqual([]);
    if (privateKey === undefined) throw new Error('no private key in the token');
    expect(token.flag(privateKey, token.ck.CKA_SENSITIVE)).toBe(true);
    expect(token.flag(privateKey, token.ck.CKA_EXTRACTABLE)).toBe(false);
    expect(() => token.module.C_GetAttributeValue(token.session, privateKey, [{ type: token.ck.CKA_VALUE }])).toThrow(
      'CKR_ATTRIBUTE_SENSITIVE',
    );

    const message = Buffer.from('release 1.2.3');
    const signed = await h.call('POST', '/v1/keys/signer/sign', { message: message.toString('base64') });
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    const signature = Buffer.from(signed.body.signature, 'base64');
    // DER (RFC 3279 Ecdsa-Sig-Value), checked by node:crypto alone.
    expect(signature[0]).toBe(0x30);
    expect(nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, signature)).toBe(true);
    expect(nodeVerify('sha256', Buffer.from('release 1.2.4'), { key: pem, dsaEncoding: 'der' }, signature)).toBe(false);
    const checked = await h.call('POST', '/v1/keys/signer/verify', {
      message: message.toString('base64'),
      signature: signed.body.signature,
    });
    expect(checked.body).toMatchObject({ valid: true, keyVersion: 1 });

    // A caller's digest signs the same way (ECDSA over SHA-256 of the message).
    const digest = createHash('sha256').update(message).digest();
    const byDigest = await h.call('POST', '/v1/keys/signer/sign', { digest: digest.toString('base64') });
    expect(byDigest.status, JSON.stringify(byDigest.body)).toBe(200);
    expect(nodeVerify('sha256', message, { key: pem, dsaEncoding: 'der' }, Buffer.from(byDigest.body.signature, 'base64'))).toBe(true);
    const short = await h.call('POST', '/v1/keys/signer/sign', { digest: digest.subarray(0, 20).toString('base64') });
    expect(short.status).toBe(400);
    expect(short.body.error.code).toBe('invalid_request');

    const published = await h.call('GET', '/v1/keys/signer/public-key');
    expect(published.status, JSON.stringify(published.body)).toBe(200);
    expect(published.body.publicKey).toBe(pem);
    expect(published.body.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });

    // Rotation makes a new pair; the old version still verifies; destroying it destroys both objects.
    expect((await h.call('POST', '/v1/keys/signer/rotate', { reason: 'quarterly' })).status).toBe(200);
    const v2 = await h.call('POST', '/v1/keys/signer/sign', { message: message.toString('base64') });
    expect(v2.body.keyVersion).toBe(2);
    const old = await h.call('POST', '/v1/keys/signer/verify', { message: message.toString('base64'), signature: signed.body.signature });
    expect(old.body).toMatchObject({ valid: true, keyVersion: 1 });
    expect((await h.call('POST', '/v1/keys/signer/versions/1/deactivate')).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/signer/versions/1/destroy')).status).toBe(200);
    expect(token.find(label(key, 1))).toEqual([]);
    expect(token.find(label(key, 2))).toHaveLength(2);
  });

  it('at the end of the deletion window the scheduler destroys every version object of the key; until then they stay', async () => {
    const key = await h.createKey('vault-gone', 'aes-256-gcm', { protection: 'hsm', deletionWindowDays: 7 });
    expect((await h.call('POST', '/v1/keys/vault-gone/rotate', { reason: 'quarterly' })).status).toBe(200);
    const scheduled = await h.call('POST', '/v1/keys/vault-gone/schedule-deletion', { days: 7 });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    h.clock.advance(6 * 86_400_000);
    expect((await h.keyward.scheduler.runOnce()).failures).toBe(0);
    expect(token.find(label(key, 1))).toHaveLength(1);
    expect(token.find(label(key, 2))).toHaveLength(1);
    h.clock.advance(2 * 86_400_000);
    expect((await h.keyward.scheduler.runOnce()).failures).toBe(0);
    expect((await h.call('GET', '/v1/keys/vault-gone')).body.state).toBe('destroyed');
    expect(token.find(label(key, 1))).toEqual([]);
    expect(token.find(label(key, 2))).toEqual([]);
    expect((await h.store.getVersions(key.id)).map((v) => v.material)).toEqual([null, null]);
  });

  it('a destroy held for a quorum leaves the object in the token; the approved destroy removes it', async () => {
    const key = await h.createKey('vault-crown', 'aes-256-gcm', { protection: 'hsm', class: 'critical' });
    const v1 = (await encrypt('vault-crown', 'kept until approved')).body;
    expect(v1.keyVersion).toBe(1);
    expect((await h.call('POST', '/v1/keys/vault-crown/rotate', {})).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/vault-crown/versions/1/deactivate')).status).toBe(200);
    const held = await h.call('POST', '/v1/keys/vault-crown/versions/1/destroy');
    expect(held.status, JSON.stringify(held.body)).toBe(202);
    expect(token.find(label(key, 1))).toHaveLength(1);
    expect((await h.call('GET', '/v1/keys/vault-crown')).body.versions[0].state).toBe('deactivated');
    expect((await decrypt('vault-crown', v1.ciphertext)).status).toBe(200);
    for (const approver of ['appr-hsm-a', 'appr-hsm-b']) {
      const voter = await h.principal(approver, ['approver']);
      const voted = await h.call('POST', `/v1/approvals/${held.body.approval.id}/approve`, undefined, voter);
      expect(voted.status, JSON.stringify(voted.body)).toBe(200);
    }
    expect(token.find(label(key, 1))).toEqual([]);
    expect((await decrypt('vault-crown', v1.ciphertext)).body.error.code).toBe('invalid_state');
  });

  it('a class requiring hsm makes hsm the default and accepts hsm keys; a software key is a policy violation', async () => {
    const byDefault = await h.createKey('vault-high', 'aes-256-gcm', { class: 'high' });
    expect(byDefault).toMatchObject({ class: 'high', protection: 'hsm' });
    expect(token.find(label(byDefault, 1))).toHaveLength(1);
    const soft = await h.call('POST', '/v1/keys', {
      name: 'soft-high',
      algorithm: 'aes-256-gcm',
      owner: 'team-test',
      class: 'high',
      protection: 'software',
    });
    expect(soft.status).toBe(400);
    expect(soft.body.error).toMatchObject({
      code: 'policy_violation',
      message: 'protection: class high requires HSM-protected keys (protection: hsm) (classes.high.protection)',
    });
    // A software key cannot be reclassified into it either.
    await h.createKey('soft-std', 'aes-256-gcm');
    const patched = await h.call('PATCH', '/v1/keys/soft-std', { class: 'high' });
    expect(patched.body.error).toMatchObject({ code: 'policy_violation' });
    expect((await h.call('GET', '/v1/keys/soft-high')).status).toBe(404);
  });

  it('a backup carries an HSM key as a reference: written whole, no known-answer line, and backup verify counts it in the token', async () => {
    expect(
      (await h.call('POST', '/v1/keys', { name: 'hsm-backed-up', algorithm: 'aes-256-gcm', owner: 'team-hsm', protection: 'hsm' })).status,
    ).toBe(201);
    const chunks: Uint8Array[] = [];
    await writeArchive({ store: h.store, seal: h.seal, node: h.node, keyward: '0.0.0-test', now: h.clock.now() }, async (chunk) => {
      chunks.push(chunk);
    });
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; table?: string; row?: { id?: string; key_id?: string }; key?: string });
    const keyId = lines.find((l) => l.table === 'keys' && (l.row as { name?: string }).name === 'hsm-backed-up')?.row?.id;
    expect(keyId).toEqual(expect.any(String));
    expect(lines.filter((l) => l.table === 'key_versions' && l.row?.key_id === keyId)).toHaveLength(1);
    expect(lines.filter((l) => l.type === 'known-answer' && l.key === keyId)).toEqual([]);
    // The whole archive, encrypted to a custodian, verifies in a scratch store.
    const identity = await generateIdentity();
    const encrypter = new Encrypter();
    encrypter.addRecipient(await identityToRecipient(identity));
    const dir = await mkdtemp(join(tmpdir(), 'kw-hsm-backup-'));
    try {
      const archive = join(dir, 'backup.age');
      await writeFile(archive, await encrypter.encrypt(Buffer.concat(chunks)));
      const report = await verifyArchive({ archive, identities: [identity], scratchParent: dir });
      expect(report.versions.failed).toBe(0);
      expect(report.versions.inToken).toBeGreaterThanOrEqual(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses what the token cannot hold yet, with a precise invalid_request, writing nothing', async () => {
    const cases: Array<[Json, string]> = [
      [
        { algorithm: 'ecdsa-p384' },
        'protection: hsm supports only aes-256-gcm, ecdsa-p256, rsa-pss-3072, rsa-pss-4096 so far, not ecdsa-p384',
      ],
      [
        { algorithm: 'hmac-sha256' },
        'protection: hsm supports only aes-256-gcm, ecdsa-p256, rsa-pss-3072, rsa-pss-4096 so far, not hmac-sha256',
      ],
      [{ algorithm: 'aes-256-gcm', exportable: true }, 'exportable: an hsm key never leaves the token and cannot be exportable'],
    ];
    for (const [body, message] of cases) {
      const r = await h.call('POST', '/v1/keys', { name: 'refused', owner: 'team-test', protection: 'hsm', ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'invalid_request', message });
    }
    const unknown = await h.call('POST', '/v1/keys', {
      name: 'refused',
      algorithm: 'aes-256-gcm',
      owner: 'team-test',
      protection: 'cloud',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('invalid_request');
    expect((await h.call('GET', '/v1/keys/refused')).status).toBe(404);
  });
});

describe('hsm-protected keys on a file-seal server', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ policy: POLICY });
  });

  afterAll(async () => h.close());

  it('are refused with a message naming the seal; a class requiring hsm is a policy violation', async () => {
    const asked = await h.call('POST', '/v1/keys', { name: 'v', algorithm: 'aes-256-gcm', owner: 'team-test', protection: 'hsm' });
    expect(asked.status).toBe(400);
    expect(asked.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'protection: hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the file seal',
    });
    const byClass = await h.call('POST', '/v1/keys', { name: 'v', algorithm: 'aes-256-gcm', owner: 'team-test', class: 'high' });
    expect(byClass.body.error).toMatchObject({
      code: 'policy_violation',
      message:
        'protection: class high requires hsm (classes.high.protection), but hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the file seal',
    });
    expect((await h.call('GET', '/v1/keys/v')).status).toBe(404);
    expect((await h.createKey('plain')).protection).toBe('software');
  });
});
