import { spawnSync } from 'node:child_process';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aesKwpUnwrap, mlKem768Spki, mlKemKwpKey } from '@keyward/crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { b64, Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const dir = mkdtempSync(join(tmpdir(), 'keyward-byok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = (name: string): string => join(dir, name);

/** Runs openssl with an argument array (no shell); fails the test on a non-zero exit. */
function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
}
const OAEP = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'];

/** What an operator does with the openssl CLI (docs/transit.md, "BYOK import"): returns base64 of the wrapped key. */
function opensslWrap(publicKeyPem: string, algorithm: string, material: Uint8Array): string {
  writeFileSync(path('wrapping.pem'), publicKeyPem);
  writeFileSync(path('key.bin'), material, { mode: 0o600 });
  if (algorithm === 'RSAES_OAEP_SHA_256') {
    openssl([
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      path('wrapping.pem'),
      ...OAEP,
      '-in',
      path('key.bin'),
      '-out',
      path('wrapped.bin'),
    ]);
    return readFileSync(path('wrapped.bin')).toString('base64');
  }
  openssl(['rand', '-out', path('ephemeral.bin'), '32']);
  const ephemeral = readFileSync(path('ephemeral.bin'));
  openssl([
    'pkeyutl',
    '-encrypt',
    '-pubin',
    '-inkey',
    path('wrapping.pem'),
    ...OAEP,
    '-in',
    path('ephemeral.bin'),
    '-out',
    path('head.bin'),
  ]);
  openssl([
    'enc',
    '-id-aes256-wrap-pad',
    '-K',
    ephemeral.toString('hex'),
    '-iv',
    'A65959A6',
    '-in',
    path('key.bin'),
    '-out',
    path('tail.bin'),
  ]);
  return Buffer.concat([readFileSync(path('head.bin')), readFileSync(path('tail.bin'))]).toString('base64');
}

/** docs/formats.md §1–2: the bytes of a `kw1:` AES-256-GCM ciphertext and the empty context's encoding. */
const EMPTY_CONTEXT = Buffer.from('00000000', 'hex');
function header(keyId: string, version: number): Buffer {
  const out = Buffer.alloc(22);
  out[0] = 0x01;
  out[1] = 0x01;
  Buffer.from(keyId.replaceAll('-', ''), 'hex').copy(out, 2);
  out.writeUInt32BE(version, 18);
  return out;
}
function localDecrypt(rawKey: Uint8Array, ciphertext: string): Buffer {
  const bytes = Buffer.from(ciphertext.slice('kw1:'.length), 'base64url');
  const head = bytes.subarray(0, 22);
  const nonce = bytes.subarray(22, 34);
  const body = bytes.subarray(34, bytes.length - 16);
  const tag = bytes.subarray(bytes.length - 16);
  const decipher = createDecipheriv('aes-256-gcm', rawKey, nonce);
  decipher.setAAD(Buffer.concat([head, EMPTY_CONTEXT]));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]);
}
function localEncrypt(rawKey: Uint8Array, keyId: string, version: number, plaintext: Buffer): string {
  const head = header(keyId, version);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rawKey, nonce);
  cipher.setAAD(Buffer.concat([head, EMPTY_CONTEXT]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `kw1:${Buffer.concat([head, nonce, body]).toString('base64url')}`;
}

const recipient = generateKeyPairSync('rsa', { modulusLength: 3072 });
const recipientPem = recipient.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const recipientFingerprint = `sha256:${createHash('sha256')
  .update(recipient.publicKey.export({ type: 'spki', format: 'der' }))
  .digest('hex')}`;
writeFileSync(path('recipient.key'), recipient.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

/** Unwraps an RSA_AES_KEY_WRAP_SHA_256 export with the openssl CLI, as a recipient would. */
function opensslUnwrap(wrappedKey: string): Buffer {
  const blob = Buffer.from(wrappedKey, 'base64');
  writeFileSync(path('x-head.bin'), blob.subarray(0, 384));
  writeFileSync(path('x-tail.bin'), blob.subarray(384));
  openssl(['pkeyutl', '-decrypt', '-inkey', path('recipient.key'), ...OAEP, '-in', path('x-head.bin'), '-out', path('x-eph.bin')]);
  const ephemeral = readFileSync(path('x-eph.bin'));
  openssl([
    'enc',
    '-d',
    '-id-aes256-wrap-pad',
    '-K',
    ephemeral.toString('hex'),
    '-iv',
    'A65959A6',
    '-in',
    path('x-tail.bin'),
    '-out',
    path('x-key.bin'),
  ]);
  return readFileSync(path('x-key.bin'));
}

describe.each(STORE_KINDS)('BYOK import and wrapped export (%s)', (store) => {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ store });
  });
  afterEach(async () => {
    await h.close();
  });

  const params = async (name: string, algorithm: string, token?: string | null): Promise<Json> => {
    const r = await h.call('GET', `/v1/keys/${name}/import-parameters?algorithm=${algorithm}`, undefined, token);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    h.secrets.add(r.body.importToken);
    return r.body;
  };
  const importKey = (name: string, body: Json, token?: string | null) => h.call('POST', `/v1/keys/${name}/import`, body, token);
  const exportKey = (name: string, version: number, body: Json, token?: string | null) =>
    h.call('POST', `/v1/keys/${name}/versions/${version}/export`, body, token);

  it('an openssl-wrapped AES key imports as the new primary version and interoperates with node:crypto both ways', async () => {
    const key = await h.createKey('byok-aes');
    const raw = randomBytes(32);
    h.secrets.add(raw.toString('base64'));
    const p = await params('byok-aes', 'RSA_AES_KEY_WRAP_SHA_256');
    expect(p.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(p.algorithm).toBe('RSA_AES_KEY_WRAP_SHA_256');
    expect(p.expiresAt).toBe(new Date(h.clock.now().getTime() + DAY).toISOString());
    const wrappedKey = opensslWrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', raw);
    const r = await importKey('byok-aes', { importToken: p.importToken, wrappedKey, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.primaryVersion).toBe(2);
    expect(r.body.versions.map((v: Json) => [v.version, v.origin, v.trigger, v.state])).toEqual([
      [1, 'generated', 'created', 'active'],
      [2, 'imported', 'import', 'active'],
    ]);
    // Same raw key, same nonce, same AAD: Keyward's ciphertext decrypts locally...
    const plaintext = Buffer.from('card 4111 1111 1111 1111');
    const enc = await h.call('POST', '/v1/keys/byok-aes/encrypt', { plaintext: b64(plaintext) });
    expect(enc.body.keyVersion).toBe(2);
    expect(localDecrypt(raw, enc.body.ciphertext).equals(plaintext)).toBe(true);
    // ... and what node:crypto encrypted with the raw key decrypts in Keyward.
    const other = Buffer.from('encrypted elsewhere');
    const dec = await h.call('POST', '/v1/keys/byok-aes/decrypt', { ciphertext: localEncrypt(raw, key.id, 2, other) });
    expect(dec.status, JSON.stringify(dec.body)).toBe(200);
    expect(Buffer.from(dec.body.plaintext, 'base64').equals(other)).toBe(true);

    const [record] = (await h.audit()).filter((a) => a.action === 'version.import' && a.outcome === 'success' && a.keyVersion === 2);
    expect(record?.details).toMatchObject({ algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    const events = await h.store.listEvents(0, 100);
    expect(events.some((e) => e.type === 'key.rotated' && e.data.trigger === 'import' && e.version === 2)).toBe(true);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^keyward_key_rotations_total\{trigger="import"\} 1$/m);
  });

  it('RSAES_OAEP_SHA_256 imports an HMAC-SHA512 key whose MACs equal node:crypto HMAC', async () => {
    await h.createKey('byok-mac', 'hmac-sha512');
    const raw = randomBytes(64);
    h.secrets.add(raw.toString('base64'));
    const p = await params('byok-mac', 'RSAES_OAEP_SHA_256');
    const r = await importKey('byok-mac', {
      importToken: p.importToken,
      wrappedKey: opensslWrap(p.publicKey, 'RSAES_OAEP_SHA_256', raw),
      algorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const message = Buffer.from('hello');
    const mac = await h.call('POST', '/v1/keys/byok-mac/mac', { message: b64(message) });
    expect(mac.body.mac).toBe(createHmac('sha512', raw).update(message).digest('base64'));
  });

  it('refuses a wrong token, a tampered blob, a key of the wrong size and reuse precisely, changing nothing', async () => {
    await h.createKey('byok-bad');
    await h.createKey('byok-other');
    const raw = randomBytes(32);
    const p = await params('byok-bad', 'RSA_AES_KEY_WRAP_SHA_256');
    const good = opensslWrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', raw);
    const body = { importToken: p.importToken, wrappedKey: good, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' };
    const refused = async (name: string, b: Json, code: string, message: RegExp): Promise<void> => {
      const r = await importKey(name, b);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.message).toMatch(message);
    };
    await refused(
      'byok-bad',
      { ...body, importToken: 'kwi_forged' },
      'invalid_request',
      /^importToken: not an import token issued for key 'byok-bad'/,
    );
    await refused('byok-other', body, 'invalid_request', /^importToken: not an import token issued for key 'byok-other'/);
    await refused(
      'byok-bad',
      { ...body, algorithm: 'RSAES_OAEP_SHA_256' },
      'invalid_request',
      /^algorithm: the import token was issued for RSA_AES_KEY_WRAP_SHA_256/,
    );
    const tampered = Buffer.from(good, 'base64');
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 1;
    await refused('byok-bad', { ...body, wrappedKey: tampered.toString('base64') }, 'invalid_request', /^wrappedKey: does not unwrap/);
    await refused('byok-bad', { ...body, wrappedKey: 'not base64!' }, 'invalid_request', /^wrappedKey: is not valid base64/);
    await refused(
      'byok-bad',
      { ...body, wrappedKey: opensslWrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', randomBytes(16)) },
      'invalid_request',
      /^wrappedKey: the unwrapped key is 16 bytes; aes-256-gcm needs 32/,
    );
    await refused('byok-bad', { ...body, extra: 1 }, 'invalid_request', /extra|additional/);
    // Nothing changed, and the token survived the failures.
    expect((await h.call('GET', '/v1/keys/byok-bad')).body.primaryVersion).toBe(1);
    expect((await importKey('byok-bad', body)).status).toBe(200);
    await refused('byok-bad', body, 'invalid_request', /^importToken: already used/);
    expect((await h.call('GET', '/v1/keys/byok-bad')).body.primaryVersion).toBe(2);
  });

  it('a token is bound to its namespace: the same key name elsewhere refuses it; each namespace has its own wrapping key pair', async () => {
    await h.createKey('byok-ns');
    const other = { 'x-keyward-namespace': 'team-b' };
    const created = await h.call('POST', '/v1/keys', { name: 'byok-ns', algorithm: 'aes-256-gcm', owner: 'team-test' }, undefined, other);
    expect(created.status).toBe(201);
    const p = await params('byok-ns', 'RSAES_OAEP_SHA_256');
    const elsewhere = await h.call('GET', '/v1/keys/byok-ns/import-parameters?algorithm=RSAES_OAEP_SHA_256', undefined, undefined, other);
    expect(elsewhere.status).toBe(200);
    h.secrets.add(elsewhere.body.importToken);
    expect(elsewhere.body.publicKey).not.toBe(p.publicKey);
    const wrappedKey = opensslWrap(p.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32));
    const r = await h.call(
      'POST',
      '/v1/keys/byok-ns/import',
      { importToken: p.importToken, wrappedKey, algorithm: 'RSAES_OAEP_SHA_256' },
      undefined,
      other,
    );
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe("importToken: not an import token issued for key 'byok-ns'");
  });

  it('tokens expire after 24 hours; wrapping key pairs rotate after their period', async () => {
    await h.createKey('byok-time');
    const first = await params('byok-time', 'RSAES_OAEP_SHA_256');
    const again = await params('byok-time', 'RSAES_OAEP_SHA_256');
    expect(again.publicKey).toBe(first.publicKey);
    expect(again.importToken).not.toBe(first.importToken);
    const wrappedKey = opensslWrap(first.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32));
    h.clock.advance(DAY);
    const late = await importKey('byok-time', { importToken: first.importToken, wrappedKey, algorithm: 'RSAES_OAEP_SHA_256' });
    expect(late.status).toBe(400);
    expect(late.body.error.message).toBe(`importToken: expired at ${first.expiresAt}; ask for new import parameters`);
    h.clock.advance(7 * DAY);
    const rotated = await params('byok-time', 'RSAES_OAEP_SHA_256');
    expect(rotated.publicKey).not.toBe(first.publicKey);
    // Material wrapped for the old pair does not unwrap under the new one.
    const stale = await importKey('byok-time', { importToken: rotated.importToken, wrappedKey, algorithm: 'RSAES_OAEP_SHA_256' });
    expect(stale.status).toBe(400);
    expect(stale.body.error.message).toMatch(/^wrappedKey: does not unwrap/);
  });

  it('refuses import into asymmetric keys, and to principals without version.import', async () => {
    await h.createKey('byok-sign', 'ed25519');
    const r = await h.call('GET', '/v1/keys/byok-sign/import-parameters?algorithm=RSAES_OAEP_SHA_256');
    expect(r.status).toBe(400);
    expect(r.body.error.message).toBe("algorithm: key 'byok-sign' is ed25519; only symmetric encryption and HMAC keys can import material");
    const bad = await h.call('GET', '/v1/keys/byok-sign/import-parameters?algorithm=AES_GCM');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/algorithm/);
    await h.createKey('byok-authz');
    const user = await h.principal('byok-user', ['key-user']);
    expect((await h.call('GET', '/v1/keys/byok-authz/import-parameters?algorithm=RSAES_OAEP_SHA_256', undefined, user)).status).toBe(403);
    const keyAdmin = await h.principal('byok-key-admin', ['key-admin']);
    await params('byok-authz', 'RSAES_OAEP_SHA_256', keyAdmin);
  });

  it('exports wrapped for an RSA recipient (openssl unwraps it) and for an ML-KEM-768 recipient (@noble unwraps it)', async () => {
    await h.createKey('byok-export', 'aes-256-gcm', { exportable: true });
    const before = await h.call('POST', '/v1/keys/byok-export/encrypt', { plaintext: b64('made with version 1') });
    expect(before.body.keyVersion).toBe(1);
    const raw = randomBytes(32);
    h.secrets.add(raw.toString('base64'));
    const p = await params('byok-export', 'RSA_AES_KEY_WRAP_SHA_256');
    const imported = await importKey('byok-export', {
      importToken: p.importToken,
      wrappedKey: opensslWrap(p.publicKey, 'RSA_AES_KEY_WRAP_SHA_256', raw),
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
    });
    expect(imported.status).toBe(200);

    const rsa = await exportKey('byok-export', 2, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(rsa.status, JSON.stringify(rsa.body)).toBe(200);
    expect(rsa.body).toMatchObject({
      keyVersion: 2,
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
      keyAlgorithm: 'aes-256-gcm',
      recipientFingerprint,
    });
    expect(opensslUnwrap(rsa.body.wrappedKey).equals(raw)).toBe(true);

    const { publicKey, secretKey } = ml_kem768.keygen();
    const kemPem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(mlKem768Spki(publicKey)).toString('base64')}\n-----END PUBLIC KEY-----\n`;
    const kem = await exportKey('byok-export', 2, { publicKey: kemPem, algorithm: 'ML_KEM_768_AES_KWP' });
    expect(kem.status, JSON.stringify(kem.body)).toBe(200);
    const blob = Buffer.from(kem.body.wrappedKey, 'base64');
    const shared = ml_kem768.decapsulate(blob.subarray(0, 1088), secretKey);
    expect(Buffer.from(aesKwpUnwrap(mlKemKwpKey(shared), blob.subarray(1088))).equals(raw)).toBe(true);

    // Version 1 (generated) unwraps to the key that decrypts what Keyward encrypted with it.
    const v1 = await exportKey('byok-export', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(v1.status).toBe(200);
    expect(localDecrypt(opensslUnwrap(v1.body.wrappedKey), before.body.ciphertext).toString()).toBe('made with version 1');

    const records = (await h.audit()).filter((a) => a.action === 'version.export' && a.outcome === 'success');
    expect(records.map((a) => [a.keyVersion, a.details.algorithm, a.details.recipientFingerprint])).toEqual([
      [2, 'RSA_AES_KEY_WRAP_SHA_256', recipientFingerprint],
      [2, 'ML_KEM_768_AES_KWP', expect.stringMatching(/^sha256:[0-9a-f]{64}$/)],
      [1, 'RSA_AES_KEY_WRAP_SHA_256', recipientFingerprint],
    ]);
    const haystack = JSON.stringify(await h.audit());
    expect(haystack).not.toContain(rsa.body.wrappedKey);
    expect(haystack).not.toContain(raw.toString('hex'));
  });

  it("an exportable ed25519 version exports as PKCS#8 DER whose public key is the version's", async () => {
    const key = await h.createKey('byok-sign-export', 'ed25519', { exportable: true });
    const r = await exportKey('byok-sign-export', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.keyAlgorithm).toBe('ed25519');
    const privateKey = createPrivateKey({ key: opensslUnwrap(r.body.wrappedKey), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' })).toBe(key.versions[0].publicKey);
  });

  it('refuses export of keys not created exportable, of compromised and destroyed versions, to bad recipient keys, and to key-admins', async () => {
    await h.createKey('byok-closed');
    const closed = await exportKey('byok-closed', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(closed.status).toBe(403);
    expect(closed.body.error).toMatchObject({
      code: 'forbidden',
      message: "key 'byok-closed' was not created exportable; its material never leaves Keyward",
    });

    await h.createKey('byok-open', 'aes-256-gcm', { exportable: true });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const [publicKey, algorithm, message] of [
      [small, 'RSA_AES_KEY_WRAP_SHA_256', /^publicKey: an RSA key of 1024 bits; at least 2048 needed/],
      ['garbage', 'RSA_AES_KEY_WRAP_SHA_256', /^publicKey: not a PEM/],
      [recipientPem, 'ML_KEM_768_AES_KWP', /^publicKey: not an ML-KEM-768 SubjectPublicKeyInfo/],
    ] as const) {
      const r = await exportKey('byok-open', 1, { publicKey, algorithm });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toMatch(message);
    }
    const unknown = await exportKey('byok-open', 1, { publicKey: recipientPem, algorithm: 'RSAES_OAEP_SHA_256' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/algorithm/);
    expect((await exportKey('byok-open', 9, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' })).status).toBe(404);

    const keyAdmin = await h.principal('byok-admin2', ['key-admin']);
    expect((await exportKey('byok-open', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' }, keyAdmin)).status).toBe(
      403,
    );

    expect((await h.call('POST', '/v1/keys/byok-open/rotate')).status).toBe(200);
    expect((await h.call('POST', '/v1/keys/byok-open/versions/1/compromise', { reason: 'laptop lost' })).status).toBe(200);
    const compromised = await exportKey('byok-open', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(compromised.status).toBe(409);
    expect(compromised.body.error).toMatchObject({
      code: 'invalid_state',
      message: "key version 1 of 'byok-open' is compromised and cannot be exported",
    });
    expect((await h.call('POST', '/v1/keys/byok-open/versions/1/destroy')).status).toBe(200);
    const destroyed = await exportKey('byok-open', 1, { publicKey: recipientPem, algorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(destroyed.status).toBe(409);
    expect(destroyed.body.error.message).toMatch(/destroyed_compromised and cannot be exported/);
  });
});

describe.each(STORE_KINDS)('BYOK refusals that depend on the class and the key state (%s)', (store) => {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ store });
  });
  afterEach(async () => {
    await h.close();
  });

  it('an exportable key whose class no longer allows export is refused with policy_violation', async () => {
    await h.createKey('byok-reclass', 'aes-256-gcm', { exportable: true, class: 'high' });
    (h.options as { policy?: unknown }).policy = new FixedPolicy(parsePolicy('classes:\n  high:\n    exportable: false\n'));
    await h.restart();
    const r = await h.call('POST', '/v1/keys/byok-reclass/versions/1/export', {
      publicKey: recipientPem,
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'policy_violation', message: 'classes.high.exportable: class high does not allow export' });
  });

  it('a key pending deletion takes no import and gives no export', async () => {
    await h.createKey('byok-leaving', 'aes-256-gcm', { exportable: true });
    const p = await h.call('GET', '/v1/keys/byok-leaving/import-parameters?algorithm=RSAES_OAEP_SHA_256');
    h.secrets.add(p.body.importToken);
    expect((await h.call('POST', '/v1/keys/byok-leaving/schedule-deletion', { days: 7 })).status).toBe(200);
    const wrappedKey = opensslWrap(p.body.publicKey, 'RSAES_OAEP_SHA_256', randomBytes(32));
    const imported = await h.call('POST', '/v1/keys/byok-leaving/import', {
      importToken: p.body.importToken,
      wrappedKey,
      algorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(imported.status).toBe(409);
    expect(imported.body.error).toMatchObject({
      code: 'invalid_state',
      message: "key 'byok-leaving' is pending_deletion and cannot take imported material",
    });
    const exported = await h.call('POST', '/v1/keys/byok-leaving/versions/1/export', {
      publicKey: recipientPem,
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
    });
    expect(exported.status).toBe(409);
    expect(exported.body.error.message).toBe("key 'byok-leaving' is pending_deletion and cannot be exported");
  });
});

describe.each(STORE_KINDS)('wrapped export held for a quorum (%s)', (store) => {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ store, policy: new FixedPolicy(parsePolicy('classes:\n  high:\n    quorum:\n      export: 2\n')) });
  });
  afterEach(async () => {
    await h.close();
  });

  it('an export of a high key waits for two approvers; the approving vote runs it and the approval carries the wrapped key', async () => {
    await h.createKey('byok-held', 'aes-256-gcm', { exportable: true, class: 'high' });
    const raw = randomBytes(32);
    h.secrets.add(raw.toString('base64'));
    const p = await h.call('GET', '/v1/keys/byok-held/import-parameters?algorithm=RSAES_OAEP_SHA_256');
    h.secrets.add(p.body.importToken);
    const imported = await h.call('POST', '/v1/keys/byok-held/import', {
      importToken: p.body.importToken,
      wrappedKey: opensslWrap(p.body.publicKey, 'RSAES_OAEP_SHA_256', raw),
      algorithm: 'RSAES_OAEP_SHA_256',
    });
    expect(imported.status).toBe(200);

    const asked = await h.call('POST', '/v1/keys/byok-held/versions/2/export', {
      publicKey: recipientPem,
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const approval = asked.body.approval as Json;
    expect(approval).toMatchObject({ rule: 'export', state: 'pending', required: 2 });
    expect(approval.operation).toMatchObject({ type: 'export', version: 2, algorithm: 'RSA_AES_KEY_WRAP_SHA_256', recipientFingerprint });
    expect(approval.result).toBeUndefined();

    const a = await h.principal('byok-approver-a', ['approver']);
    const b = await h.principal('byok-approver-b', ['approver']);
    const first = await h.call('POST', `/v1/approvals/${approval.id}/approve`, {}, a);
    expect(first.body.state).toBe('pending');
    const second = await h.call('POST', `/v1/approvals/${approval.id}/approve`, {}, b);
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.state).toBe('executed');
    expect(second.body.result).toMatchObject({ keyVersion: 2, algorithm: 'RSA_AES_KEY_WRAP_SHA_256', recipientFingerprint });
    expect(opensslUnwrap(second.body.result.wrappedKey).equals(raw)).toBe(true);

    // The requester reads it from the approval.
    const read = await h.call('GET', `/v1/approvals/${approval.id}`);
    expect(read.body.result.wrappedKey).toBe(second.body.result.wrappedKey);
    const [executed] = (await h.audit()).filter(
      (r) => r.action === 'version.export' && r.outcome === 'success' && r.details.approval === approval.id && r.details.approvedBy,
    );
    expect(executed?.details).toMatchObject({ recipientFingerprint, approvedBy: 'byok-approver-a,byok-approver-b' });
  });
});
