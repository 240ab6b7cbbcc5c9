import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

describe('keyward key usage and key jwks against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const run = (args: string[], stdin?: string) => keyward(args, { env, ...(stdin === undefined ? {} : { stdin }) });

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('usage shows what signing and verifying did with each version', async () => {
    expect((await run(['key', 'create', 'cli-usage', '--algorithm', 'ed25519', '--owner', 'team-cli'])).code).toBe(0);
    const signed = await run(['sign', '--key', 'cli-usage'], 'release 1');
    expect(signed.code, signed.stderr).toBe(0);
    expect((await run(['key', 'rotate', 'cli-usage'])).code).toBe(0);

    const table = await run(['key', 'usage', 'cli-usage']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^VERSION +STATE +PRINCIPAL +OPERATION +COUNT +LAST USED$/m);
    expect(table.stdout).toMatch(/^2 +active +- +- +0 +-$/m);
    expect(table.stdout).toMatch(/^1 +active +admin +sign +1 +\d{4}-\d{2}-\d{2}T/m);

    const report = JSON.parse((await run(['key', 'usage', 'cli-usage', '--since', '1h', '--json'])).stdout);
    expect(report.versions.map((v: { total: number }) => v.total)).toEqual([0, 1]);
    const future = JSON.parse((await run(['key', 'usage', 'cli-usage', '--since', '2999-01-01T00:00:00Z', '--json'])).stdout);
    expect(future.versions.map((v: { total: number }) => v.total)).toEqual([0, 0]);
  });

  it('jwks prints the JWK Set; a symmetric key exits 3', async () => {
    const created = JSON.parse(
      (await run(['key', 'create', 'cli-jwks', '--algorithm', 'ecdsa-p384', '--owner', 'team-cli', '--json'])).stdout,
    );
    const printed = await run(['key', 'jwks', 'cli-jwks']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual({
      keys: [{ kty: 'EC', crv: 'P-384', x: expect.any(String), y: expect.any(String), kid: `${created.id}:1`, alg: 'ES384', use: 'sig' }],
    });
    expect((await run(['key', 'create', 'cli-jwks-sym', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    const refused = await run(['key', 'jwks', 'cli-jwks-sym']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: invalid_request: key 'cli-jwks-sym' is symmetric and has no public keys/);
  });
});
