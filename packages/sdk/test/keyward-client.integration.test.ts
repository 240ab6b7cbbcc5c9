import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isBatchItemError, isPendingApproval, KeywardApiError, KeywardClient, KeywardConnectionError } from '../src/index.js';
import { useServer } from './support/server.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

describe('KeywardClient against the real server', () => {
  const ctx = useServer();

  it('health and self', async () => {
    expect(await ctx.admin.health()).toMatchObject({ initialized: true, sealed: false });
    const self = await ctx.admin.self();
    expect(self.roles).toContain('admin');
  });

  it('refuses a missing or wrong token with unauthenticated', async () => {
    const anonymous = new KeywardClient({ address: ctx.server.url });
    await expect(anonymous.listKeys()).rejects.toMatchObject({ code: 'unauthenticated', status: 401 });
    const wrong = new KeywardClient({ address: ctx.server.url, token: 'kw_wrong' });
    const error = await wrong.listKeys().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeywardApiError);
    expect((error as KeywardApiError).requestId).toEqual(expect.any(String));
  });

  it('runs the key life cycle', async () => {
    const created = await ctx.admin.createKey({
      name: 'sdk-life',
      algorithm: 'aes-256-gcm',
      owner: 'team-sdk',
      environment: 'dev',
      class: 'standard',
      description: 'sdk test',
      tags: { app: 'sdk' },
    });
    expect(created).toMatchObject({ name: 'sdk-life', state: 'enabled', primaryVersion: 1 });
    await expect(ctx.admin.createKey({ name: 'sdk-life', algorithm: 'aes-256-gcm', owner: 'x' })).rejects.toMatchObject({
      code: 'conflict',
    });

    expect((await ctx.admin.getKey('sdk-life')).versions?.[0]?.state).toBe('active');
    expect(await ctx.admin.patchKey('sdk-life', { description: 'changed' })).toMatchObject({ description: 'changed' });
    const rotated = await ctx.admin.rotateKey('sdk-life', { reason: 'test' });
    expect(rotated.primaryVersion).toBe(2);
    const deactivated = await ctx.admin.deactivateVersion('sdk-life', 1);
    expect(deactivated.versions?.find((v) => v.version === 1)?.state).toBe('deactivated');
    expect(await ctx.admin.disableKey('sdk-life')).toMatchObject({ state: 'disabled' });
    await expect(ctx.admin.encrypt('sdk-life', bytes('x'))).rejects.toMatchObject({ code: 'invalid_state', status: 409 });
    expect((await ctx.admin.enableKey('sdk-life')).state).toBe('enabled');
    await expect(ctx.admin.getKey('sdk-nope')).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });

  it('compromises a version and schedules and cancels deletion', async () => {
    await ctx.admin.createKey({ name: 'sdk-retire', algorithm: 'aes-256-gcm', owner: 'team-sdk', class: 'standard' });
    await ctx.admin.rotateKey('sdk-retire');
    const compromised = await ctx.admin.compromiseVersion('sdk-retire', 2, { reason: 'drill' });
    expect(compromised.primaryVersion).toBe(3);
    expect(compromised.versions?.find((v) => v.version === 2)?.state).toBe('compromised');
    await ctx.admin.disableKey('sdk-retire');
    const pending = await ctx.admin.scheduleDeletion('sdk-retire', { days: 7 });
    if (isPendingApproval(pending)) throw new Error('deleting a standard key is not held by the default policy');
    expect(pending.state).toBe('pending_deletion');
    expect(pending.deletionDate).not.toBeNull();
    expect((await ctx.admin.cancelDeletion('sdk-retire')).state).toBe('disabled');
  });

  it('lists with filters and iterates over pages', async () => {
    for (const name of ['sdk-page-a', 'sdk-page-b', 'sdk-page-c']) {
      await ctx.admin.createKey({ name, algorithm: 'hmac-sha256', owner: 'team-pages' });
    }
    const first = await ctx.admin.listKeys({ owner: 'team-pages', limit: 2 });
    expect(first.keys).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const names: string[] = [];
    for await (const key of ctx.admin.iterateKeys({ owner: 'team-pages', limit: 2 })) names.push(key.name);
    expect(names.sort()).toEqual(['sdk-page-a', 'sdk-page-b', 'sdk-page-c']);
  });

  it('encrypts, decrypts, rewraps and makes data keys with a context', async () => {
    await ctx.admin.createKey({ name: 'sdk-enc', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    const context = { tenant: '42' };
    const { ciphertext, keyVersion } = await ctx.admin.encrypt('sdk-enc', bytes('card 4111'), { context });
    expect(keyVersion).toBe(1);
    expect(text((await ctx.admin.decrypt('sdk-enc', ciphertext, { context })).plaintext)).toBe('card 4111');
    await expect(ctx.admin.decrypt('sdk-enc', ciphertext, { context: { tenant: '43' } })).rejects.toMatchObject({
      code: 'invalid_ciphertext',
    });
    await ctx.admin.rotateKey('sdk-enc');
    const rewrapped = await ctx.admin.rewrap('sdk-enc', ciphertext, { context });
    expect(rewrapped.keyVersion).toBe(2);
    expect(text((await ctx.admin.decrypt('sdk-enc', rewrapped.ciphertext, { context })).plaintext)).toBe('card 4111');

    const dataKey = await ctx.admin.dataKey('sdk-enc', { bytes: 32, context });
    expect(dataKey.plaintext).toHaveLength(32);
    expect((await ctx.admin.decrypt('sdk-enc', dataKey.ciphertext, { context })).plaintext).toEqual(dataKey.plaintext);
    const wrappedOnly = await ctx.admin.dataKey('sdk-enc', { includePlaintext: false });
    expect(wrappedOnly.plaintext).toBeUndefined();
  });

  it('batches answer per item', async () => {
    const encrypted = await ctx.admin.encryptBatch('sdk-enc', [{ plaintext: bytes('a') }, { plaintext: bytes('b'), context: { k: 'v' } }]);
    const ciphertexts = encrypted.map((item) => (isBatchItemError(item) ? '' : item.ciphertext));
    const decrypted = await ctx.admin.decryptBatch('sdk-enc', [{ ciphertext: ciphertexts[0] ?? '' }, { ciphertext: ciphertexts[1] ?? '' }]);
    expect(isBatchItemError(decrypted[0] ?? { error: { code: '', message: '' } })).toBe(false);
    expect(decrypted[1]).toMatchObject({ error: { code: 'invalid_ciphertext' } });
    const rewrapped = await ctx.admin.rewrapBatch('sdk-enc', [{ ciphertext: ciphertexts[1] ?? '', context: { k: 'v' } }]);
    expect(rewrapped[0]).toMatchObject({ keyVersion: 2 });
  });

  it('signs and verifies; the signature checks with node:crypto and the public key', async () => {
    await ctx.admin.createKey({ name: 'sdk-sign', algorithm: 'ed25519', owner: 'team-sdk' });
    const message = bytes('release 1.2.3');
    const { signature } = await ctx.admin.sign('sdk-sign', { message });
    expect(await ctx.admin.verify('sdk-sign', { message, signature })).toMatchObject({ valid: true, keyVersion: 1 });
    expect((await ctx.admin.verify('sdk-sign', { message: bytes('tampered'), signature })).valid).toBe(false);
    const { publicKey } = await ctx.admin.publicKey('sdk-sign', { version: 1 });
    expect(verifySignature(null, message, createPublicKey(publicKey), signature)).toBe(true);

    await ctx.admin.createKey({ name: 'sdk-ecdsa', algorithm: 'ecdsa-p256', owner: 'team-sdk' });
    const digest = new Uint8Array(createHash('sha256').update(message).digest());
    const signed = await ctx.admin.sign('sdk-ecdsa', { digest });
    expect((await ctx.admin.verify('sdk-ecdsa', { digest, signature: signed.signature, keyVersion: 1 })).valid).toBe(true);
  });

  it('computes and verifies MACs', async () => {
    await ctx.admin.createKey({ name: 'sdk-mac', algorithm: 'hmac-sha256', owner: 'team-sdk' });
    const { mac } = await ctx.admin.mac('sdk-mac', bytes('webhook body'));
    expect(mac).toHaveLength(32);
    expect((await ctx.admin.verifyMac('sdk-mac', bytes('webhook body'), mac)).valid).toBe(true);
    expect((await ctx.admin.verifyMac('sdk-mac', bytes('other body'), mac)).valid).toBe(false);
  });

  it('manages principals, tokens and grants; a granted service can encrypt', async () => {
    await ctx.admin.createKey({ name: 'sdk-granted', algorithm: 'aes-256-gcm', owner: 'team-sdk', environment: 'prod' });
    const principal = await ctx.admin.createPrincipal({ id: 'svc-sdk', kind: 'service', roles: ['key-user'], environments: ['prod'] });
    expect(principal).toMatchObject({ id: 'svc-sdk', kind: 'service', roles: ['key-user'] });
    expect((await ctx.admin.getPrincipal('svc-sdk')).id).toBe('svc-sdk');
    expect((await ctx.admin.listPrincipals()).principals.map((p) => p.id)).toContain('svc-sdk');

    const created = await ctx.admin.createToken('svc-sdk', { ttl: '1h', description: 'sdk test' });
    expect(created.token).toEqual(expect.any(String));
    const service = new KeywardClient({ address: ctx.server.url, token: created.token });
    await expect(service.encrypt('sdk-granted', bytes('x'))).rejects.toMatchObject({ code: 'forbidden', status: 403 });

    const grant = await ctx.admin.addGrant('sdk-granted', { principal: 'svc-sdk', operations: ['encrypt', 'decrypt'] });
    if (isPendingApproval(grant)) throw new Error('a grant on a standard key is not held by the default policy');
    expect((await ctx.admin.listGrants('sdk-granted')).grants.map((g) => g.id)).toContain(grant.id);
    const { ciphertext } = await service.encrypt('sdk-granted', bytes('x'));
    expect(text((await service.decrypt('sdk-granted', ciphertext)).plaintext)).toBe('x');

    await ctx.admin.removeGrant('sdk-granted', grant.id);
    await expect(service.encrypt('sdk-granted', bytes('x'))).rejects.toMatchObject({ code: 'forbidden' });
    await ctx.admin.revokeToken(created.id);
    await expect(service.self()).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('answers a held operation with its pending approval, which approvers then run', async () => {
    await ctx.admin.createKey({ name: 'sdk-crown', algorithm: 'aes-256-gcm', owner: 'team-sdk', class: 'critical' });
    await ctx.admin.rotateKey('sdk-crown');
    await ctx.admin.deactivateVersion('sdk-crown', 1);
    const held = await ctx.admin.destroyVersion('sdk-crown', 1);
    if (!isPendingApproval(held)) throw new Error('a destroy on a critical key is held by the default policy');
    expect(held.approval).toMatchObject({
      state: 'pending',
      required: 2,
      requester: 'admin',
      operation: { type: 'destroyVersion', version: 1 },
    });
    const approvers = [];
    for (const id of ['sdk-appr-a', 'sdk-appr-b']) {
      await ctx.admin.createPrincipal({ id, kind: 'user', roles: ['approver'] });
      const { token } = await ctx.admin.createToken(id, { ttl: '1h' });
      approvers.push(new KeywardClient({ address: ctx.server.url, token }));
    }
    const [a, b] = approvers as [KeywardClient, KeywardClient];
    expect((await a.listApprovals({ state: 'pending', key: 'sdk-crown' })).approvals.map((x) => x.id)).toEqual([held.approval.id]);
    expect(await a.approve(held.approval.id, { comment: 'ok' })).toMatchObject({ state: 'pending' });
    expect(await b.approve(held.approval.id)).toMatchObject({ state: 'executed', error: null });
    expect((await ctx.admin.getKey('sdk-crown')).versions?.find((v) => v.version === 1)?.state).toBe('destroyed');
    await expect(b.deny(held.approval.id)).rejects.toMatchObject({ code: 'invalid_state', status: 409 });
  });

  it('uses the namespace header', async () => {
    const other = new KeywardClient({ address: ctx.server.url, token: ctx.server.token, namespace: 'sdk-ns' });
    await other.createKey({ name: 'sdk-enc', algorithm: 'aes-256-gcm', owner: 'team-ns' });
    expect((await other.getKey('sdk-enc')).namespace).toBe('sdk-ns');
    expect((await ctx.admin.getKey('sdk-enc')).namespace).toBe('default');
  });

  it('answers init on a file-seal server with conflict', async () => {
    await expect(ctx.admin.init({ shares: 3, threshold: 2 })).rejects.toBeInstanceOf(KeywardApiError);
  });

  it('reports a stopped server as unreachable', async () => {
    const client = new KeywardClient({ address: 'http://127.0.0.1:47', timeoutMs: 2000 });
    await expect(client.health()).rejects.toBeInstanceOf(KeywardConnectionError);
  });
});
