import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorAnswer } from '../../sdk/test/support/fake-fetch.js';
import { keyView } from '../../sdk/test/support/fixtures.js';
import { buildProgram } from '../src/build-program.js';
import type { CliIo } from '../src/cli-io.js';
import { CommandContext } from '../src/command-context.js';
import { runCli } from './support/run-cli.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyward-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('global options', () => {
  it('uses KEYWARD_ADDR, KEYWARD_TOKEN and KEYWARD_NAMESPACE', async () => {
    const result = await runCli(['key', 'show', 'payments-db'], {
      answers: [{ body: keyView() }],
      env: { KEYWARD_ADDR: 'http://kms.test:9000', KEYWARD_TOKEN: 'kw_env', KEYWARD_NAMESPACE: 'ns1' },
    });
    expect(result.code).toBe(0);
    const [request] = result.requests;
    expect(request?.url.href).toBe('http://kms.test:9000/v1/keys/payments-db');
    expect(request?.headers.authorization).toBe('Bearer kw_env');
    expect(request?.headers['x-keyward-namespace']).toBe('ns1');
  });

  it('sends the TOTP code of --otp over KEYWARD_OTP as X-Keyward-OTP; refuses one that is not 6 digits', async () => {
    const fromEnv = await runCli(['key', 'show', 'k'], {
      answers: [{ body: keyView() }],
      env: { KEYWARD_TOKEN: 'kw_env', KEYWARD_OTP: '111111' },
    });
    expect(fromEnv.requests[0]?.headers['x-keyward-otp']).toBe('111111');
    const fromFlag = await runCli(['--otp', '222222', 'key', 'show', 'k'], {
      answers: [{ body: keyView() }],
      env: { KEYWARD_TOKEN: 'kw_env', KEYWARD_OTP: '111111' },
    });
    expect(fromFlag.requests[0]?.headers['x-keyward-otp']).toBe('222222');
    expect(fromFlag.requests[0]?.url.href).not.toContain('222222');
    const bad = await runCli(['--otp', '12ab56', 'key', 'show', 'k'], { answers: [], env: { KEYWARD_TOKEN: 'kw_env' } });
    expect(bad.code).toBe(2);
    expect(bad.requests).toHaveLength(0);
  });

  it('lets flags win over the environment, and reads the token from --token-file', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'kw_from_file\n');
    const result = await runCli(['--addr', 'http://flag:1', '--token-file', file, '--namespace', 'n2', 'key', 'show', 'k'], {
      answers: [{ body: keyView() }],
      env: { KEYWARD_ADDR: 'http://env:1', KEYWARD_TOKEN: 'kw_env' },
    });
    expect(result.requests[0]?.url.origin).toBe('http://flag:1');
    expect(result.requests[0]?.headers.authorization).toBe('Bearer kw_from_file');
    expect(result.requests[0]?.headers['x-keyward-namespace']).toBe('n2');
  });

  it('accepts global options after the subcommand too', async () => {
    const result = await runCli(['key', 'show', 'k', '--addr', 'http://late:2', '--json'], { answers: [{ body: keyView() }] });
    expect(result.requests[0]?.url.origin).toBe('http://late:2');
    expect(JSON.parse(result.stdout).name).toBe('payments-db');
  });

  it('defaults to http://127.0.0.1:8200', async () => {
    const result = await runCli(['status'], { answers: [{ body: { initialized: true, sealed: false, version: '1' } }] });
    expect(result.requests[0]?.url.href).toBe('http://127.0.0.1:8200/v1/sys/health');
  });

  it('offers no --token flag: a token would be visible in ps', async () => {
    const result = await runCli(['--token', 'kw_leak', 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--token'");
    expect(result.requests).toHaveLength(0);
    const flags: string[] = [];
    const visit = (command: Command): void => {
      flags.push(...command.options.map((option) => option.long ?? ''));
      command.commands.forEach(visit);
    };
    visit(buildProgram(new CommandContext({} as CliIo)));
    expect(flags).toContain('--token-file');
    // Only flags naming a file that holds the secret (`webhook create --secret-file`), never the secret itself.
    expect(flags.filter((flag) => /token|secret|^--share$|password/.test(flag))).toEqual(['--token-file', '--secret-file']);
  });

  it('TLS files: flags need an https address, a certificate needs its key, files must be PEM (never quoted); variables are ignored for http', async () => {
    const pem = join(dir, 'ca.pem');
    await writeFile(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const notPem = join(dir, 'not-pem.key');
    await writeFile(notPem, 'secret-key-bytes-1234');
    const onHttp = await runCli(['--addr', 'http://h:1', '--ca-file', pem, 'status']);
    expect(onHttp.code).toBe(2);
    expect(onHttp.stderr).toContain('--ca-file needs an https address');
    const alone = await runCli(['--addr', 'https://h:1', '--client-cert', pem, 'status']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--client-cert and --client-key');
    const bad = await runCli(['--addr', 'https://h:1', '--client-cert', pem, '--client-key', notPem, 'status']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--client-key ${notPem} is not a PEM file`);
    expect(bad.stderr).not.toContain('secret-key-bytes');
    const missing = await runCli(['--addr', 'https://h:1', '--ca-file', join(dir, 'nope.pem'), 'status']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    const ignored = await runCli(['key', 'show', 'k'], {
      answers: [{ body: keyView() }],
      env: { KEYWARD_ADDR: 'http://plain:1', KEYWARD_CACERT: pem, KEYWARD_CLIENT_CERT: pem },
    });
    expect(ignored.code).toBe(0);
    expect(ignored.requests[0]?.url.origin).toBe('http://plain:1');
  });

  it('refuses an empty or unreadable token file with exit 2', async () => {
    const empty = join(dir, 'empty');
    await writeFile(empty, '\n');
    expect((await runCli(['--token-file', empty, 'status'])).code).toBe(2);
    const missing = await runCli(['--token-file', join(dir, 'nope'), 'status']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });
});

describe('exit codes', () => {
  it('0 for --help, with exit codes and environment in the help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stdout).toContain('KEYWARD_TOKEN');
    expect(result.stdout).toMatch(/^ {2}server\b/m);
  });

  it.each([
    [[]],
    [['nonsense']],
    [['key']],
    [['key', 'create', 'k', '--owner', 'o']],
    [['key', 'create', 'k', '--owner', 'o', '--algorithm', 'rot13']],
    [['key', 'list', '--limit', '5000']],
    [['key', 'deactivate-version', 'k', 'one']],
    [['encrypt']],
    [['principal', 'create', 'svc', '--kind', 'service', '--role', 'root']],
    [['grant', 'add', 'k', '--principal', 'p', '--operation', 'explode']],
    [['token', 'create', 'p', '--ttl', 'forever']],
    [['server', '--data-dir', 'x']],
  ])('2 for the usage error %j, before any request', async (argv) => {
    const result = await runCli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toBe('');
    expect(result.requests).toHaveLength(0);
  });

  it('3 for a 4xx answer, with code, message and request id on stderr', async () => {
    const result = await runCli(['key', 'show', 'nope'], {
      answers: [errorAnswer(404, 'not_found', "key 'nope' does not exist", 'req-9')],
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe("error: not_found: key 'nope' does not exist (request req-9)\n");
    expect(result.stdout).toBe('');
  });

  it('4 for a sealed server (503) and for 5xx', async () => {
    expect((await runCli(['key', 'show', 'k'], { answers: [errorAnswer(503, 'sealed', 'Keyward is sealed')] })).code).toBe(4);
    expect((await runCli(['key', 'show', 'k'], { answers: [errorAnswer(500, 'internal', 'oops')] })).code).toBe(4);
  });

  it('4 for an unreachable server', async () => {
    const result = await runCli(['status'], {
      answers: () => {
        throw new TypeError('fetch failed');
      },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^error: unreachable: cannot reach Keyward at http:\/\/127\.0\.0\.1:8200/);
  });

  it('2 for a local refusal such as a bad address', async () => {
    const result = await runCli(['--addr', 'ftp://x', 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid_request');
  });
});

describe('status and operator', () => {
  it('status prints health and exits 4 when sealed', async () => {
    const ok = await runCli(['status'], { answers: [{ body: { initialized: true, sealed: false, version: '0.1.0' } }] });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Sealed:       no');
    const sealed = await runCli(['status', '--json'], {
      answers: [{ status: 503, body: { initialized: true, sealed: true, version: '0.1.0' } }],
    });
    expect(sealed.code).toBe(4);
    expect(JSON.parse(sealed.stdout)).toEqual({ initialized: true, sealed: true, version: '0.1.0' });
  });

  it('init sends shares and threshold, prints them once with a warning on stderr', async () => {
    const result = await runCli(['operator', 'init', '--shares', '3', '--threshold', '2'], {
      answers: [{ body: { unsealShares: ['s1', 's2', 's3'], adminToken: 'kw_admin' } }],
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.body).toEqual({ shares: 3, threshold: 2 });
    expect(result.stdout).toContain('Unseal share 3:');
    expect(result.stdout).toContain('kw_admin');
    expect(result.stderr).toContain('WARNING');
    expect((await runCli(['operator', 'init', '--shares', '2', '--threshold', '3'])).code).toBe(2);
  });

  it('unseal reads one share from stdin and shows progress', async () => {
    const result = await runCli(['operator', 'unseal'], {
      stdin: 'share-one\n',
      answers: [{ body: { sealed: true, progress: 1, threshold: 3 } }],
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.body).toEqual({ share: 'share-one' });
    expect(result.stdout).toBe('Unseal progress: 1 of 3 shares; Keyward is still sealed.\n');
  });

  it('unseal reads from the hidden prompt on a terminal', async () => {
    const result = await runCli(['operator', 'unseal'], {
      tty: true,
      secret: 'typed',
      answers: [{ body: { sealed: false, progress: 0, threshold: 2 } }],
    });
    expect(result.requests[0]?.body).toEqual({ share: 'typed' });
    expect(result.stdout).toContain('unsealed');
  });

  it('unseal refuses empty stdin, several shares, and a share in argv', async () => {
    expect((await runCli(['operator', 'unseal'], { stdin: '\n' })).code).toBe(2);
    const two = await runCli(['operator', 'unseal'], { stdin: 'a\nb\n' });
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('one share per');
    expect((await runCli(['operator', 'unseal', 'share-in-argv'])).code).toBe(2);
  });

  it('seal', async () => {
    const result = await runCli(['operator', 'seal'], { answers: [{ status: 204 }] });
    expect(result).toMatchObject({ code: 0, stdout: 'Keyward is sealed.\n' });
    expect(result.requests[0]?.url.pathname).toBe('/v1/sys/seal');
  });
});

describe('key commands', () => {
  it('create maps every flag to the request', async () => {
    const result = await runCli(
      [
        'key',
        'create',
        'payments-db',
        '--algorithm',
        'aes-256-gcm',
        '--owner',
        'team-payments',
        '--class',
        'critical',
        '--environment',
        'prod',
        '--description',
        'card vault',
        '--tag',
        'app=payments',
        '--tag',
        'tier=1',
        '--rotation-period',
        '90d',
        '--max-uses',
        '1000000',
        '--exportable',
        '--deletion-window-days',
        '30',
      ],
      { answers: [{ status: 201, body: keyView() }] },
    );
    expect(result.code).toBe(0);
    expect(result.requests[0]?.body).toEqual({
      name: 'payments-db',
      algorithm: 'aes-256-gcm',
      owner: 'team-payments',
      class: 'critical',
      environment: 'prod',
      description: 'card vault',
      tags: { app: 'payments', tier: '1' },
      rotationPeriod: '90d',
      maxUsesPerVersion: 1000000,
      exportable: true,
      deletionWindowDays: 30,
    });
    expect(result.stdout).toMatch(/^Name: +payments-db$/m);
    expect(result.stdout).toMatch(/^1\* +active/m);
  });

  it('create sends only the required fields when no options are given', async () => {
    const result = await runCli(['key', 'create', 'k', '--algorithm', 'ed25519', '--owner', 'o'], { answers: [{ body: keyView() }] });
    expect(result.requests[0]?.body).toEqual({ name: 'k', algorithm: 'ed25519', owner: 'o' });
  });

  it('list passes filters, prints a table and points to the next page', async () => {
    const result = await runCli(
      ['key', 'list', '--owner', 'o', '--state', 'enabled', '--tag', 'app=payments', '--query', 'pay', '--limit', '1'],
      { answers: [{ body: { keys: [keyView()], nextCursor: 'c2' } }] },
    );
    expect(Object.fromEntries(result.requests[0]?.url.searchParams ?? [])).toEqual({
      owner: 'o',
      state: 'enabled',
      tag: 'app:payments',
      q: 'pay',
      limit: '1',
    });
    expect(result.stdout.split('\n')[0]).toMatch(/^NAME +ALGORITHM +STATE +OWNER +CLASS +ENVIRONMENT +PRIMARY$/);
    expect(result.stderr).toContain('--cursor c2');
  });

  it('list --all follows the cursors; --json prints one document', async () => {
    const result = await runCli(['key', 'list', '--all', '--json'], {
      answers: [
        { body: { keys: [keyView({ name: 'a' })], nextCursor: 'c2' } },
        { body: { keys: [keyView({ name: 'b' })], nextCursor: null } },
      ],
    });
    const parsed = JSON.parse(result.stdout) as { keys: Array<{ name: string }>; nextCursor: null };
    expect(parsed.keys.map((key) => key.name)).toEqual(['a', 'b']);
    expect(parsed.nextCursor).toBeNull();
  });

  it.each([
    [['key', 'rotate', 'k', '--reason', 'schedule'], '/v1/keys/k/rotate', { reason: 'schedule' }],
    [['key', 'enable', 'k'], '/v1/keys/k/enable', undefined],
    [['key', 'disable', 'k'], '/v1/keys/k/disable', undefined],
    [['key', 'deactivate-version', 'k', '1'], '/v1/keys/k/versions/1/deactivate', undefined],
    [['key', 'compromise-version', 'k', '2', '--reason', 'leak'], '/v1/keys/k/versions/2/compromise', { reason: 'leak' }],
    [['key', 'schedule-deletion', 'k', '--days', '7'], '/v1/keys/k/schedule-deletion', { days: 7 }],
    [['key', 'cancel-deletion', 'k'], '/v1/keys/k/cancel-deletion', undefined],
  ])('%j posts to %s', async (argv, path, body) => {
    const result = await runCli(argv, { answers: [{ body: keyView() }] });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.url.pathname).toBe(path);
    if (body !== undefined) expect(result.requests[0]?.body).toEqual(body);
  });
});

describe('encrypt, decrypt, sign, verify', () => {
  it('encrypt reads stdin and prints the ciphertext', async () => {
    const result = await runCli(['encrypt', '--key', 'k', '--context', 'tenant=42'], {
      stdin: 'secret',
      answers: [{ body: { ciphertext: 'kw1.abc', keyVersion: 1 } }],
    });
    expect(result.requests[0]?.body).toEqual({ plaintext: b64('secret'), context: { tenant: '42' } });
    expect(result.stdout).toBe('kw1.abc\n');
  });

  it('decrypt reads a file, trims the ciphertext and writes raw bytes to --out with mode 0600', async () => {
    const input = join(dir, 'ct');
    const output = join(dir, 'pt');
    await writeFile(input, 'kw1.abc\n');
    const bytes = new Uint8Array([0, 255, 10, 13]);
    const result = await runCli(['decrypt', '--key', 'k', '--in', input, '--out', output], {
      answers: [{ body: { plaintext: Buffer.from(bytes).toString('base64'), keyVersion: 1 } }],
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.body).toEqual({ ciphertext: 'kw1.abc' });
    expect(new Uint8Array(await readFile(output))).toEqual(bytes);
    expect((await stat(output)).mode & 0o777).toBe(0o600);
  });

  it('decrypt writes raw bytes to stdout, or base64 under --json', async () => {
    const answers = () => ({ body: { plaintext: b64('\u0000bin'), keyVersion: 2 } });
    expect((await runCli(['decrypt', '--key', 'k'], { stdin: 'c', answers })).stdoutBytes).toEqual(new TextEncoder().encode('\u0000bin'));
    expect(JSON.parse((await runCli(['decrypt', '--key', 'k', '--json'], { stdin: 'c', answers })).stdout)).toEqual({
      plaintext: b64('\u0000bin'),
      keyVersion: 2,
    });
  });

  it('an unreadable --in file is a usage error', async () => {
    const result = await runCli(['encrypt', '--key', 'k', '--in', join(dir, 'missing')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ENOENT');
  });

  it('sign prints base64, --raw bytes, and takes --digest-hex', async () => {
    const answers = () => ({ body: { signature: b64('SIG'), keyVersion: 1 } });
    expect((await runCli(['sign', '--key', 'k'], { stdin: 'msg', answers })).stdout).toBe(`${b64('SIG')}\n`);
    expect((await runCli(['sign', '--key', 'k', '--raw'], { stdin: 'msg', answers })).stdout).toBe('SIG');
    const digest = await runCli(['sign', '--key', 'k', '--digest-hex', 'ab01'], { answers });
    expect(digest.requests[0]?.body).toEqual({ digest: Buffer.from([0xab, 0x01]).toString('base64') });
    expect((await runCli(['sign', '--key', 'k', '--digest-hex', 'ab01', '--in', 'x'])).code).toBe(2);
  });

  it('verify exits 0 when valid and 3 when invalid', async () => {
    const sig = join(dir, 'sig');
    await writeFile(sig, `${b64('SIG')}\n`);
    const valid = await runCli(['verify', '--key', 'k', '--signature', sig, '--version', '1'], {
      stdin: 'msg',
      answers: [{ body: { valid: true, keyVersion: 1 } }],
    });
    expect(valid.code).toBe(0);
    expect(valid.requests[0]?.body).toEqual({ message: b64('msg'), signature: b64('SIG'), keyVersion: 1 });
    expect(valid.stdout).toBe('valid (key version 1)\n');
    const invalid = await runCli(['verify', '--key', 'k', '--signature', sig, '--json'], {
      stdin: 'msg',
      answers: [{ body: { valid: false, keyVersion: null } }],
    });
    expect(invalid.code).toBe(3);
    expect(JSON.parse(invalid.stdout)).toEqual({ valid: false, keyVersion: null });
  });

  it('verify reads the signature from stdin only when the message comes from elsewhere', async () => {
    expect((await runCli(['verify', '--key', 'k', '--signature', '-'], { stdin: b64('SIG') })).code).toBe(2);
    const result = await runCli(['verify', '--key', 'k', '--signature', '-', '--digest-hex', '00'], {
      stdin: `${b64('SIG')}\n`,
      answers: [{ body: { valid: true, keyVersion: 1 } }],
    });
    expect(result.code).toBe(0);
    expect(result.requests[0]?.body).toEqual({ digest: 'AA==', signature: b64('SIG') });
    // Three characters are not padded base64: refused unless --raw says the bytes are the signature.
    expect((await runCli(['verify', '--key', 'k', '--signature', '-', '--digest-hex', '00'], { stdin: 'SIG' })).code).toBe(2);
    const raw = await runCli(['verify', '--key', 'k', '--signature', '-', '--digest-hex', '00', '--raw'], {
      stdin: 'SIG',
      answers: [{ body: { valid: true, keyVersion: 1 } }],
    });
    expect(raw.requests[0]?.body).toMatchObject({ signature: b64('SIG') });
  });
});

describe('principal, token, grant', () => {
  const principal = {
    id: 'svc-billing',
    kind: 'service',
    roles: ['key-user'],
    environments: ['prod'],
    teams: ['team-payments'],
    createdAt: 't',
    disabled: false,
  };
  const grant = {
    id: 'g1',
    key: 'k',
    namespace: 'default',
    principal: 'svc-billing',
    operations: ['encrypt', 'decrypt'],
    createdAt: 't',
    createdBy: 'admin',
  };

  it('principal create collects repeatable roles, environments and teams', async () => {
    const result = await runCli(
      [
        'principal',
        'create',
        'svc-billing',
        '--kind',
        'service',
        '--role',
        'key-user',
        '--role',
        'auditor',
        '--environment',
        'prod',
        '--team',
        'team-payments',
      ],
      { answers: [{ status: 201, body: principal }] },
    );
    expect(result.requests[0]?.body).toEqual({
      id: 'svc-billing',
      kind: 'service',
      roles: ['key-user', 'auditor'],
      environments: ['prod'],
      teams: ['team-payments'],
    });
    expect(result.stdout).toMatch(/^Roles: +key-user$/m);
  });

  it('principal list follows pages and principal show', async () => {
    const list = await runCli(['principal', 'list'], {
      answers: [
        { body: { principals: [principal], nextCursor: 'n' } },
        { body: { principals: [{ ...principal, id: 'alice' }], nextCursor: null } },
      ],
    });
    expect(list.stdout).toMatch(/^svc-billing +service/m);
    expect(list.stdout).toMatch(/^alice +service/m);
    const show = await runCli(['principal', 'show', 'svc-billing', '--json'], { answers: [{ body: principal }] });
    expect(JSON.parse(show.stdout)).toEqual(principal);
  });

  it('token create prints the token once with a warning; revoke uses the id', async () => {
    const created = await runCli(['token', 'create', 'svc-billing', '--ttl', '30d', '--description', 'ci'], {
      answers: [{ status: 201, body: { id: 'tok_1', token: 'kw_new', expiresAt: null, principal: 'svc-billing' } }],
    });
    expect(created.requests[0]?.body).toEqual({ ttl: '30d', description: 'ci' });
    expect(created.stdout).toMatch(/^Token: +kw_new$/m);
    expect(created.stderr).toContain('shown this once');
    const revoked = await runCli(['token', 'revoke', 'tok_1'], { answers: [{ status: 204 }] });
    expect(revoked.requests[0]?.method).toBe('DELETE');
    expect(revoked.requests[0]?.url.pathname).toBe('/v1/tokens/tok_1');
  });

  it('grant add, list and remove', async () => {
    const added = await runCli(['grant', 'add', 'k', '--principal', 'svc-billing', '--operation', 'encrypt', '--operation', 'decrypt'], {
      answers: [{ status: 201, body: grant }],
    });
    expect(added.requests[0]?.body).toEqual({ principal: 'svc-billing', operations: ['encrypt', 'decrypt'] });
    const list = await runCli(['grant', 'list', 'k'], { answers: [{ body: { grants: [grant], nextCursor: null } }] });
    expect(list.stdout).toMatch(/^g1 +svc-billing +encrypt,decrypt/m);
    const removed = await runCli(['grant', 'remove', 'k', 'g1'], { answers: [{ status: 204 }] });
    expect(removed.requests[0]?.url.pathname).toBe('/v1/keys/k/grants/g1');
  });
});
