import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';

describe('KeywardClient reports against the real server', () => {
  const ctx = useServer();

  it('jwks lists the versions of a signing key newest first', async () => {
    const key = await ctx.admin.createKey({ name: 'sdk-jwks', algorithm: 'ecdsa-p256', owner: 'team-sdk' });
    await ctx.admin.rotateKey('sdk-jwks');
    const { keys } = await ctx.admin.jwks('sdk-jwks');
    expect(keys.map((k) => k.kid)).toEqual([`${key.id}:2`, `${key.id}:1`]);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    await ctx.admin.createKey({ name: 'sdk-jwks-sym', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    await expect(ctx.admin.jwks('sdk-jwks-sym')).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
  });

  it('usage counts operations by version and principal, and filters by since', async () => {
    await ctx.admin.createKey({ name: 'sdk-usage', algorithm: 'hmac-sha256', owner: 'team-sdk' });
    const message = new TextEncoder().encode('hello');
    const { mac } = await ctx.admin.mac('sdk-usage', message);
    await ctx.admin.verifyMac('sdk-usage', message, mac);
    await ctx.admin.verifyMac('sdk-usage', message, mac);
    const report = await ctx.admin.usage('sdk-usage');
    expect(report).toMatchObject({ key: 'sdk-usage', since: null });
    expect(report.versions).toEqual([
      {
        version: 1,
        state: 'active',
        total: 3,
        lastUsedAt: expect.any(String),
        byPrincipal: [{ principal: 'admin', operations: { mac: 1, 'verify-mac': 2 }, lastUsedAt: expect.any(String) }],
      },
    ]);
    const later = await ctx.admin.usage('sdk-usage', { since: new Date(Date.now() + 60_000) });
    expect(later.versions[0]?.total).toBe(0);
    await expect(ctx.admin.usage('sdk-usage', { since: 'last week' })).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
  });
});
