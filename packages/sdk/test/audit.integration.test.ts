import { auditPublicKey, verifyAuditLines } from '@keyward/crypto';
import type { AuditRecordView } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { useServer } from './support/server.js';

/** Splits a stream of text chunks into lines, holding one partial line at most. */
async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    yield* parts;
  }
  if (rest !== '') yield rest;
}

describe('KeywardClient audit against the real server', () => {
  const ctx = useServer();

  it('reads, verifies, exports (verified offline), hashes and checkpoints the trail', async () => {
    ctx.server.remember('acme-sdk-tenant');
    await ctx.admin.createKey({ name: 'sdk-audit', algorithm: 'aes-256-gcm', owner: 'team-sdk' });
    const plaintext = new TextEncoder().encode('hello');
    for (let i = 0; i < 3; i++) await ctx.admin.encrypt('sdk-audit', plaintext, { context: { tenant: 'acme-sdk-tenant' } });

    const { events, nextCursor } = await ctx.admin.auditEvents({ key: 'sdk-audit', action: 'crypto.encrypt' });
    expect([events.length, nextCursor]).toEqual([3, null]);
    const all: AuditRecordView[] = [];
    for await (const record of ctx.admin.iterateAuditEvents({ key: 'sdk-audit', limit: 1 })) all.push(record);
    expect(all.map((r) => r.action)).toEqual(['key.create', 'crypto.encrypt', 'crypto.encrypt', 'crypto.encrypt']);

    const { hmac } = await ctx.admin.auditHash({ context: { tenant: 'acme-sdk-tenant' } });
    expect(events.map((r) => r.details.context)).toEqual([hmac, hmac, hmac]);
    expect((await ctx.admin.auditHash({ value: 'x' })).hmac).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);

    expect(await ctx.admin.verifyAudit()).toMatchObject({ valid: true, problem: null });
    const checkpoint = await ctx.admin.auditCheckpoint();
    const { publicKey, keyId } = await ctx.admin.auditPublicKey();
    expect(checkpoint.keyId).toBe(keyId);

    // The export is streamed twice (verifyAuditLines reads checkpoints first, then records).
    const report = await verifyAuditLines(
      async function* () {
        yield* linesOf(await ctx.admin.exportAudit());
      },
      { publicKey: auditPublicKey(publicKey), requireAllChains: true },
    );
    expect(report).toMatchObject({ valid: true, problem: null });
    expect(report.checkpoints).toBeGreaterThanOrEqual(2);
    expect(report.chains[0]?.records).toBeGreaterThanOrEqual(all.length);
  });

  it('refusals are API errors', async () => {
    await expect(ctx.admin.auditEvents({ action: 'NOPE' })).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
    await expect(ctx.admin.auditEvents({ from: 'yesterday' })).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
  });
});
