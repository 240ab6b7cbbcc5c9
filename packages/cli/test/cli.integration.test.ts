import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, collect, keyward, spawnKeyward } from './support/keyward-process.js';

describe('keyward CLI against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const run = (args: string[], stdin?: string | Uint8Array, extra: Record<string, string> = {}) =>
    keyward(args, { env: { ...env, ...extra }, ...(stdin === undefined ? {} : { stdin }) });
  const json = <T>(text: string): T => JSON.parse(text) as T;

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('status', async () => {
    const text = await run(['status']);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(/^Sealed: +no$/m);
    expect(json<{ sealed: boolean }>((await run(['status', '--json'])).stdout).sealed).toBe(false);
  });

  it('key create, show, list, rotate, disable, enable, deactivate-version', async () => {
    const created = await run([
      'key',
      'create',
      'cli-life',
      '--algorithm',
      'aes-256-gcm',
      '--owner',
      'team-cli',
      '--class',
      'standard',
      '--environment',
      'dev',
      '--description',
      'cli test',
      '--tag',
      'app=cli',
      '--rotation-period',
      '30d',
      '--max-uses',
      '1000',
      '--deletion-window-days',
      '14',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(json(created.stdout)).toMatchObject({
      name: 'cli-life',
      owner: 'team-cli',
      class: 'standard',
      environment: 'dev',
      description: 'cli test',
      tags: { app: 'cli' },
      rotationPeriod: '30d',
      maxUsesPerVersion: 1000,
      deletionWindowDays: 14,
      primaryVersion: 1,
    });

    const shown = await run(['key', 'show', 'cli-life']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Name: +cli-life$/m);
    expect(shown.stdout).toMatch(/^1\* +active/m);

    const listed = await run(['key', 'list', '--owner', 'team-cli']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME +ALGORITHM/);
    expect(listed.stdout).toMatch(/^cli-life +aes-256-gcm +enabled +team-cli +standard +dev +1$/m);
    const listedJson = json<{ keys: Array<{ name: string }> }>((await run(['key', 'list', '--tag', 'app=cli', '--all', '--json'])).stdout);
    expect(listedJson.keys.map((key) => key.name)).toEqual(['cli-life']);

    expect(
      json<{ primaryVersion: number }>((await run(['key', 'rotate', 'cli-life', '--reason', 'test', '--json'])).stdout).primaryVersion,
    ).toBe(2);
    expect(json<{ state: string }>((await run(['key', 'disable', 'cli-life', '--json'])).stdout).state).toBe('disabled');
    expect(json<{ state: string }>((await run(['key', 'enable', 'cli-life', '--json'])).stdout).state).toBe('enabled');
    const deactivated = await run(['key', 'deactivate-version', 'cli-life', '1']);
    expect(deactivated.code).toBe(0);
    expect(deactivated.stdout).toMatch(/^1 +deactivated/m);
  });

  it('key compromise-version, schedule-deletion, cancel-deletion', async () => {
    await run(['key', 'create', 'cli-retire', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli']);
    const compromised = await run(['key', 'compromise-version', 'cli-retire', '1', '--reason', 'drill', '--json']);
    expect(compromised.stderr).toBe('');
    expect(json<{ primaryVersion: number }>(compromised.stdout).primaryVersion).toBe(2);
    await run(['key', 'disable', 'cli-retire']);
    expect(json<{ state: string }>((await run(['key', 'schedule-deletion', 'cli-retire', '--days', '7', '--json'])).stdout).state).toBe(
      'pending_deletion',
    );
    expect(json<{ state: string }>((await run(['key', 'cancel-deletion', 'cli-retire', '--json'])).stdout).state).toBe('disabled');
  });

  it('key update, rotate --activation-date, destroy-version', async () => {
    expect(
      (await run(['key', 'create', 'cli-cycle', '--algorithm', 'ed25519', '--owner', 'team-cli', '--rotation-period', '30d'])).code,
    ).toBe(0);
    const updated = await run([
      'key',
      'update',
      'cli-cycle',
      '--prepublish-period',
      '7d',
      '--originator-period',
      '60d',
      '--description',
      'signing',
      '--json',
    ]);
    expect(updated.code).toBe(0);
    expect(json(updated.stdout)).toMatchObject({ prepublishPeriod: '7d', originatorPeriod: '60d', description: 'signing' });
    const cleared = await run(['key', 'update', 'cli-cycle', '--prepublish-period', 'none', '--json']);
    expect(json<{ prepublishPeriod: null }>(cleared.stdout).prepublishPeriod).toBeNull();
    expect((await run(['key', 'update', 'cli-cycle'])).code).toBe(2);
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const scheduled = await run(['key', 'rotate', 'cli-cycle', '--activation-date', later, '--json']);
    expect(json<{ versions: Array<{ state: string }> }>(scheduled.stdout).versions[1]?.state).toBe('pre_active');
    expect((await run(['key', 'rotate', 'cli-cycle', '--activation-date', 'tomorrow'])).code).toBe(2);
    await run(['key', 'rotate', 'cli-cycle']);
    expect((await run(['key', 'deactivate-version', 'cli-cycle', '1'])).code).toBe(0);
    const destroyed = await run(['key', 'destroy-version', 'cli-cycle', '1', '--json']);
    expect(destroyed.code).toBe(0);
    expect(json<{ versions: Array<{ state: string }> }>(destroyed.stdout).versions[0]?.state).toBe('destroyed');
    const shown = await run(['key', 'show', 'cli-cycle']);
    expect(shown.stdout).toMatch(/^1 +destroyed +created/m);
    expect(shown.stdout).toMatch(/Originator period: +60d/);
    const floor = await run(['key', 'update', 'cli-cycle', '--min-decryption-version', '3', '--json']);
    expect(json<{ minDecryptionVersion: number }>(floor.stdout).minDecryptionVersion).toBe(3);
  });

  it('encrypt and decrypt through pipes and files, with a context', async () => {
    await run(['key', 'create', 'cli-enc', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli']);
    const secret = new Uint8Array([0, 1, 2, 255, 10, 13, 0]);
    const encrypted = await run(['encrypt', '--key', 'cli-enc', '--context', 'tenant=42'], secret);
    expect(encrypted.code).toBe(0);
    const ciphertext = encrypted.stdout.trim();
    expect(ciphertext).not.toBe('');
    const decrypted = await run(['decrypt', '--key', 'cli-enc', '--context', 'tenant=42'], encrypted.stdout);
    expect(decrypted.code).toBe(0);
    expect(new Uint8Array(decrypted.stdoutBytes)).toEqual(secret);

    const wrong = await run(['decrypt', '--key', 'cli-enc', '--context', 'tenant=43'], ciphertext);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/^error: invalid_ciphertext: .+ \(request [^)]+\)\n$/);

    const input = join(server.dataDir, 'plain.txt');
    const sealed = join(server.dataDir, 'cipher.txt');
    const output = join(server.dataDir, 'plain.out');
    await writeFile(input, 'from a file');
    expect((await run(['encrypt', '--key', 'cli-enc', '--in', input, '--out', sealed])).code).toBe(0);
    expect((await run(['decrypt', '--key', 'cli-enc', '--in', sealed, '--out', output])).code).toBe(0);
    expect(await readFile(output, 'utf8')).toBe('from a file');

    const asJson = json<{ ciphertext: string; keyVersion: number }>((await run(['encrypt', '--key', 'cli-enc', '--json'], 'x')).stdout);
    expect(asJson.keyVersion).toBe(1);
  });

  it('sign and verify: exit 0 when valid, 3 when not', async () => {
    await run(['key', 'create', 'cli-sign', '--algorithm', 'ed25519', '--owner', 'team-cli']);
    const signatureFile = join(server.dataDir, 'sig.b64');
    const message = join(server.dataDir, 'release.txt');
    await writeFile(message, 'release 1.2.3');
    expect((await run(['sign', '--key', 'cli-sign', '--in', message, '--out', signatureFile])).code).toBe(0);

    const valid = await run(['verify', '--key', 'cli-sign', '--signature', signatureFile, '--in', message]);
    expect(valid).toMatchObject({ code: 0, stdout: 'valid (key version 1)\n' });
    const fromStdin = await run(['verify', '--key', 'cli-sign', '--signature', signatureFile, '--version', '1'], 'release 1.2.3');
    expect(fromStdin.code).toBe(0);
    const invalid = await run(['verify', '--key', 'cli-sign', '--signature', signatureFile], 'release 9.9.9');
    expect(invalid.code).toBe(3);
    expect(invalid.stdout).toContain('invalid');
    const invalidJson = await run(['verify', '--key', 'cli-sign', '--signature', signatureFile, '--json'], 'release 9.9.9');
    expect(invalidJson.code).toBe(3);
    expect(json<{ valid: boolean }>(invalidJson.stdout).valid).toBe(false);

    const raw = await run(['sign', '--key', 'cli-sign', '--raw'], 'raw message');
    expect(raw.stdoutBytes).toHaveLength(64);
    const rawFile = join(server.dataDir, 'sig.raw');
    await writeFile(rawFile, raw.stdoutBytes);
    expect((await run(['verify', '--key', 'cli-sign', '--signature', rawFile, '--raw'], 'raw message')).code).toBe(0);

    await run(['key', 'create', 'cli-ecdsa', '--algorithm', 'ecdsa-p256', '--owner', 'team-cli']);
    const digest = 'a'.repeat(64);
    const signed = await run(['sign', '--key', 'cli-ecdsa', '--digest-hex', digest, '--json']);
    expect(signed.code).toBe(0);
    const signature = json<{ signature: string }>(signed.stdout).signature;
    expect((await run(['verify', '--key', 'cli-ecdsa', '--signature', '-', '--digest-hex', digest], signature)).code).toBe(0);
  });

  it('principal, token and grant commands; a granted service token works until revoked', async () => {
    await run(['key', 'create', 'cli-granted', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli', '--environment', 'prod']);
    const principal = await run([
      'principal',
      'create',
      'svc-cli',
      '--kind',
      'service',
      '--role',
      'key-user',
      '--environment',
      'prod',
      '--json',
    ]);
    expect(principal.code).toBe(0);
    expect(json(principal.stdout)).toMatchObject({ id: 'svc-cli', kind: 'service', roles: ['key-user'], environments: ['prod'] });
    expect((await run(['principal', 'list'])).stdout).toMatch(/^svc-cli +service +key-user +prod/m);
    expect(
      json<{ principals: Array<{ id: string }> }>((await run(['principal', 'list', '--json'])).stdout).principals.map((p) => p.id),
    ).toContain('svc-cli');
    expect((await run(['principal', 'show', 'svc-cli'])).stdout).toMatch(/^ID: +svc-cli$/m);

    const token = await run(['token', 'create', 'svc-cli', '--ttl', '1h', '--description', 'cli test', '--json']);
    expect(token.code).toBe(0);
    expect(token.stderr).toContain('shown this once');
    const created = json<{ id: string; token: string }>(token.stdout);
    const service = { KEYWARD_TOKEN: created.token };

    expect((await run(['encrypt', '--key', 'cli-granted'], 'x', service)).code).toBe(3);
    const granted = await run([
      'grant',
      'add',
      'cli-granted',
      '--principal',
      'svc-cli',
      '--operation',
      'encrypt',
      '--operation',
      'decrypt',
      '--json',
    ]);
    expect(granted.code).toBe(0);
    const grantId = json<{ id: string }>(granted.stdout).id;
    expect((await run(['grant', 'list', 'cli-granted'])).stdout).toMatch(new RegExp(`^${grantId} +svc-cli +encrypt,decrypt`, 'm'));
    expect(json<{ grants: Array<{ id: string }> }>((await run(['grant', 'list', 'cli-granted', '--json'])).stdout).grants).toHaveLength(1);
    expect((await run(['encrypt', '--key', 'cli-granted'], 'x', service)).code).toBe(0);

    expect((await run(['grant', 'remove', 'cli-granted', grantId])).code).toBe(0);
    expect((await run(['encrypt', '--key', 'cli-granted'], 'x', service)).code).toBe(3);
    expect((await run(['token', 'revoke', created.id])).code).toBe(0);
    const revoked = await run(['key', 'list'], undefined, service);
    expect(revoked.code).toBe(3);
    expect(revoked.stderr).toMatch(/^error: unauthenticated: /);
    expect(revoked.stderr).not.toContain(created.token);
  });

  it('--token-file reads the token from a file', async () => {
    const file = join(server.dataDir, 'admin-token');
    const result = await keyward(['--token-file', file, 'key', 'list', '--json'], { env: { KEYWARD_ADDR: server.url } });
    expect(result.code).toBe(0);
    expect(json<{ keys: unknown[] }>(result.stdout).keys.length).toBeGreaterThan(0);
  });

  it('a missing key exits 3 with the error code and request id on stderr', async () => {
    const result = await run(['key', 'show', 'no-such-key']);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: not_found: .*no-such-key.* \(request [^)]+\)\n$/);
  });

  it('a conflicting name exits 3 with conflict', async () => {
    await run(['key', 'create', 'cli-dup', '--algorithm', 'hmac-sha256', '--owner', 'team-cli']);
    const again = await run(['key', 'create', 'cli-dup', '--algorithm', 'hmac-sha256', '--owner', 'team-cli']);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/^error: conflict: /);
  });

  it('an unreachable address exits 4', async () => {
    const result = await keyward(['status'], { env: { KEYWARD_ADDR: 'http://127.0.0.1:47' } });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^error: unreachable: cannot reach Keyward at http:\/\/127\.0\.0\.1:47/);
  });

  it('usage errors exit 2 and there is no --token flag', async () => {
    const result = await keyward(['--token', server.token, 'status'], { env: { KEYWARD_ADDR: server.url } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--token'");
    const help = await keyward(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    expect(help.stdout).toMatch(/^ {2}server /m);
  });

  it.runIf(process.platform === 'linux')('the token is not in the argument list of the running process', async () => {
    const child = spawnKeyward(['encrypt', '--key', 'cli-enc'], env);
    // The CLI is now blocked reading stdin; look at what `ps` would show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cmdline = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').join(' ');
    expect(cmdline).toContain('encrypt');
    expect(cmdline).not.toContain(server.token);
    expect((await collect(child, 'x')).code).toBe(0);
  });

  it('operator unseal on a file-seal server is refused: it has no shares', async () => {
    const result = await run(['operator', 'unseal'], 'some-share\n');
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: invalid_request: share: this server uses the file seal/);
    const init = await run(['operator', 'init', '--shares', '3', '--threshold', '2']);
    expect(init.code).toBe(3);
    expect(init.stderr).toMatch(/^error: conflict: /);
  });

  it('operator seal makes the server answer sealed: status and operations exit 4', async () => {
    expect((await run(['operator', 'seal'])).code).toBe(0);
    const status = await run(['status', '--json']);
    expect(status.code).toBe(4);
    expect(json<{ sealed: boolean }>(status.stdout).sealed).toBe(true);
    const refused = await run(['key', 'list']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: sealed: /);
  });
});

describe('keyward operator with a Shamir-sealed server', () => {
  let server: RunningServer;
  let addr: Record<string, string>;

  beforeAll(async () => {
    await buildCli();
    server = await startServer({ seal: 'shamir' });
    addr = { KEYWARD_ADDR: server.url };
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('init prints shares once; unseal reads one share per run from stdin; seal seals again', async () => {
    const before = await keyward(['status', '--json'], { env: addr });
    expect(before.code).toBe(4);
    expect(JSON.parse(before.stdout)).toMatchObject({ initialized: false });

    const init = await keyward(['operator', 'init', '--shares', '3', '--threshold', '2', '--json'], { env: addr });
    expect(init.code).toBe(0);
    expect(init.stderr).toContain('WARNING');
    const { unsealShares, adminToken } = JSON.parse(init.stdout) as { unsealShares: string[]; adminToken: string };
    expect(unsealShares).toHaveLength(3);
    const again = await keyward(['operator', 'init', '--shares', '3', '--threshold', '2'], { env: addr });
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/^error: conflict: /);

    // This server stays unsealed right after init, so the first operator can finish setting up.
    expect((await keyward(['status'], { env: addr })).code).toBe(0);
    const admin = { ...addr, KEYWARD_TOKEN: adminToken };
    expect((await keyward(['key', 'create', 'shamir-key', '--algorithm', 'aes-256-gcm', '--owner', 'team-ops'], { env: admin })).code).toBe(
      0,
    );
    const ciphertext = (await keyward(['encrypt', '--key', 'shamir-key'], { env: admin, stdin: 'kept across seal' })).stdout;

    expect((await keyward(['operator', 'seal'], { env: admin })).code).toBe(0);
    const sealedStatus = await keyward(['status'], { env: addr });
    expect(sealedStatus.code).toBe(4);
    expect(sealedStatus.stdout).toMatch(/^Sealed: +yes$/m);
    expect((await keyward(['key', 'show', 'shamir-key'], { env: admin })).code).toBe(4);

    const first = await keyward(['operator', 'unseal'], { env: addr, stdin: `${unsealShares[0]}\n` });
    expect(first).toMatchObject({ code: 0, stdout: 'Unseal progress: 1 of 2 shares; Keyward is still sealed.\n' });
    const two = await keyward(['operator', 'unseal'], { env: addr, stdin: `${unsealShares[1]}\n${unsealShares[2]}\n` });
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('one share per');
    const second = await keyward(['operator', 'unseal', '--json'], { env: addr, stdin: unsealShares[2] ?? '' });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ sealed: false, threshold: 2 });
    expect((await keyward(['status'], { env: addr })).code).toBe(0);
    const decrypted = await keyward(['decrypt', '--key', 'shamir-key'], { env: admin, stdin: ciphertext });
    expect(decrypted).toMatchObject({ code: 0, stdout: 'kept across seal' });
  });
});
