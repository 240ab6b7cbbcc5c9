import { setTimeout as sleep } from 'node:timers/promises';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const PERIOD_MS = 30_000;

/** The code an authenticator app holding `secret` shows `steps` periods from `at`. */
const code = (secret: string, at: number, steps = 0): string =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at + steps * PERIOD_MS });

describe('keyward auth totp against the real server', () => {
  let server: RunningServer;
  let admin: Record<string, string>;

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    admin = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
  }, 120_000);
  afterAll(async () => server?.stop());

  it('a user enrols and confirms; admin-level commands then need --otp or KEYWARD_OTP, each code once; an admin removes it', async () => {
    expect((await keyward(['principal', 'create', 'cli-alice', '--kind', 'user', '--role', 'admin'], { env: admin })).code).toBe(0);
    const issued = await keyward(['--json', 'token', 'create', 'cli-alice'], { env: admin });
    const token = (JSON.parse(issued.stdout) as { token: string }).token;
    server.remember(token);
    const alice = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: token };

    const enrol = await keyward(['--json', 'auth', 'totp', 'enrol'], { env: alice });
    expect(enrol.code, enrol.stderr).toBe(0);
    const { secret, uri } = JSON.parse(enrol.stdout) as { secret: string; uri: string };
    server.remember(secret, uri);
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrol.stderr).toContain('shown this once');

    // Codes of three consecutive steps stay within the server's ± one step only if no period ends meanwhile.
    if (Date.now() % PERIOD_MS > PERIOD_MS - 8_000) await sleep(PERIOD_MS - (Date.now() % PERIOD_MS) + 100);
    const at = Date.now();
    expect((await keyward(['auth', 'totp', 'confirm', '12345'], { env: alice })).code).toBe(2);
    const confirm = await keyward(['auth', 'totp', 'confirm', code(secret, at, -1)], { env: alice });
    expect(confirm.code, confirm.stderr).toBe(0);
    expect(confirm.stdout).toContain('TOTP confirmed for cli-alice');

    const create = ['key', 'create', 'cli-otp', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'];
    const without = await keyward(create, { env: alice });
    expect(without.code).toBe(3);
    expect(without.stderr).toContain('second factor is required');
    expect((await keyward(['--otp', 'abc', ...create], { env: alice })).code).toBe(2);
    expect((await keyward(create, { env: { ...alice, KEYWARD_OTP: code(secret, at) } })).code).toBe(0);
    const replay = await keyward(['key', 'rotate', 'cli-otp'], { env: { ...alice, KEYWARD_OTP: code(secret, at) } });
    expect(replay.code).toBe(3);
    expect(replay.stderr).toContain('already used');
    expect((await keyward(['--otp', code(secret, at, 1), 'key', 'rotate', 'cli-otp'], { env: alice })).code).toBe(0);
    // Reads need no code.
    expect((await keyward(['key', 'show', 'cli-otp'], { env: alice })).code).toBe(0);

    const removed = await keyward(['auth', 'totp', 'remove', 'cli-alice'], { env: admin });
    expect([removed.code, removed.stdout]).toEqual([0, 'removed the TOTP authenticator of cli-alice\n']);
    expect((await keyward(['key', 'rotate', 'cli-otp'], { env: alice })).code).toBe(0);
  }, 90_000);
});
