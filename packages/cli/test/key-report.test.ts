import { describe, expect, it } from 'vitest';
import { errorAnswer } from '../../sdk/test/support/fake-fetch.js';
import { parseSince } from '../src/commands/key-report-command.js';
import { runCli } from './support/run-cli.js';

const REPORT = {
  key: 'orders',
  since: null,
  versions: [
    { version: 3, state: 'active', total: 0, lastUsedAt: null, byPrincipal: [] },
    {
      version: 1,
      state: 'deactivated',
      total: 6,
      lastUsedAt: '2026-06-01T01:00:00.000Z',
      byPrincipal: [
        { principal: 'svc-a', operations: { encrypt: 3, decrypt: 1 }, lastUsedAt: '2026-06-01T01:00:00.000Z' },
        { principal: 'svc-b', operations: { decrypt: 2 }, lastUsedAt: '2026-06-01T00:00:00.000Z' },
      ],
    },
  ],
};

describe('keyward key usage', () => {
  it('prints one row per version, principal and operation, zero rows for unused versions', async () => {
    const result = await runCli(['key', 'usage', 'orders'], { answers: [{ body: REPORT }] });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.url.href).toBe('http://127.0.0.1:8200/v1/keys/orders/usage');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^Key: +orders$/);
    expect(lines[1]).toMatch(/^Since: +the key was created$/);
    const table = lines.slice(3).filter((line) => line !== '');
    expect(table[0]).toMatch(/^VERSION +STATE +PRINCIPAL +OPERATION +COUNT +LAST USED$/);
    expect(table.slice(1).map((line) => line.split(/ {2,}/))).toEqual([
      ['3', 'active', '-', '-', '0', '-'],
      ['1', 'deactivated', 'svc-a', 'decrypt', '1', '2026-06-01T01:00:00.000Z'],
      ['1', 'deactivated', 'svc-a', 'encrypt', '3', '2026-06-01T01:00:00.000Z'],
      ['1', 'deactivated', 'svc-b', 'decrypt', '2', '2026-06-01T00:00:00.000Z'],
    ]);
  });

  it('passes --since as given, or a duration as that long ago; --json prints the report', async () => {
    const given = await runCli(['key', 'usage', 'orders', '--since', '2026-06-01T00:00:00+02:00', '--json'], {
      answers: [{ body: REPORT }],
    });
    expect(given.code).toBe(0);
    expect(given.requests[0]?.url.searchParams.get('since')).toBe('2026-06-01T00:00:00+02:00');
    expect(JSON.parse(given.stdout)).toEqual(REPORT);

    const before = Date.now();
    const ago = await runCli(['key', 'usage', 'orders', '--since', '2h'], { answers: [{ body: REPORT }] });
    const since = Date.parse(ago.requests[0]?.url.searchParams.get('since') ?? '');
    expect(since).toBeGreaterThanOrEqual(before - 7_200_000 - 1000);
    expect(since).toBeLessThanOrEqual(Date.now() - 7_200_000);
  });

  it('refuses a bad --since locally with exit 2', async () => {
    const result = await runCli(['key', 'usage', 'orders', '--since', 'last week']);
    expect(result.code).toBe(2);
    expect(result.requests).toHaveLength(0);
    expect(result.stderr).toMatch(/--since/);
  });

  it('exits 3 when refused', async () => {
    const result = await runCli(['key', 'usage', 'orders'], {
      answers: [errorAnswer(403, 'forbidden', "'svc-a' is not allowed to key.usage", 'r1')],
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe("error: forbidden: 'svc-a' is not allowed to key.usage (request r1)\n");
  });

  it('parseSince', () => {
    const now = () => Date.parse('2026-06-30T00:00:00Z');
    expect(parseSince('30d', now)).toBe('2026-05-31T00:00:00.000Z');
    expect(parseSince('90m', now)).toBe('2026-06-29T22:30:00.000Z');
    expect(parseSince('2026-06-01T00:00:00.5Z', now)).toBe('2026-06-01T00:00:00.5Z');
    for (const bad of ['0d', '30', 'd', '2026-06-01', 'yesterday']) expect(() => parseSince(bad, now), bad).toThrow();
  });
});

describe('keyward key jwks', () => {
  it('prints the JWK Set as JSON', async () => {
    const set = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'k:2', alg: 'EdDSA', use: 'sig' }] };
    const result = await runCli(['key', 'jwks', 'release-signing'], { answers: [{ body: set }] });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.url.href).toBe('http://127.0.0.1:8200/v1/keys/release-signing/jwks');
    expect(JSON.parse(result.stdout)).toEqual(set);
    expect(result.stdout.endsWith('}\n')).toBe(true);
  });
});
