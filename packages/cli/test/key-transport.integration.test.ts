import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

const OAEP = ['-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'];

function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
}

describe('keyward key import-parameters, import and export against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  const run = (args: string[]) => keyward(args, { env });
  const path = (name: string) => join(dir, name);

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = await mkdtemp(join(tmpdir(), 'keyward-cli-byok-'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports from a key file, imports an openssl-wrapped key, and exports for an RSA recipient that openssl unwraps', async () => {
    const created = await run(['key', 'create', 'cli-byok', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli', '--exportable']);
    expect(created.code, created.stderr).toBe(0);
    const raw = randomBytes(32);
    await writeFile(path('key.bin'), raw, { mode: 0o600 });

    const imported = await run(['key', 'import', 'cli-byok', '--key-file', path('key.bin'), '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const key = JSON.parse(imported.stdout);
    expect(key.primaryVersion).toBe(2);
    expect(key.versions[1]).toMatchObject({ version: 2, origin: 'imported' });

    // The openssl path: parameters, wrap by hand, import the wrapped file.
    const params = await run(['key', 'import-parameters', 'cli-byok', '--algorithm', 'RSAES_OAEP_SHA_256', '--json']);
    expect(params.code, params.stderr).toBe(0);
    const { publicKey } = JSON.parse(params.stdout);
    await writeFile(path('params.json'), params.stdout);
    const text = await run(['key', 'import-parameters', 'cli-byok']);
    expect(text.stdout).toMatch(/^Import token: +kwi_/m);
    expect(text.stdout).toMatch(/-----BEGIN PUBLIC KEY-----/);
    await writeFile(path('wrapping.pem'), publicKey);
    const raw3 = randomBytes(32);
    await writeFile(path('key3.bin'), raw3, { mode: 0o600 });
    openssl([
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      path('wrapping.pem'),
      ...OAEP,
      '-in',
      path('key3.bin'),
      '-out',
      path('wrapped.bin'),
    ]);
    const byHand = await run([
      'key',
      'import',
      'cli-byok',
      '--wrapped-file',
      path('wrapped.bin'),
      '--parameters',
      path('params.json'),
      '--algorithm',
      'RSAES_OAEP_SHA_256',
      '--json',
    ]);
    expect(byHand.code, byHand.stderr).toBe(0);
    expect(JSON.parse(byHand.stdout).primaryVersion).toBe(3);

    const recipient = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(path('recipient.pem'), recipient.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(path('recipient.key'), recipient.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    for (const [version, material] of [
      [2, raw],
      [3, raw3],
    ] as const) {
      const exported = await run([
        'key',
        'export',
        'cli-byok',
        '--version',
        String(version),
        '--public-key',
        path('recipient.pem'),
        '--output',
        path('out.bin'),
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stderr).toMatch(
        new RegExp(`^Wrote version ${version} of cli-byok \\(aes-256-gcm\\) wrapped for sha256:[0-9a-f]{64}`),
      );
      const blob = await readFile(path('out.bin'));
      await writeFile(path('head.bin'), blob.subarray(0, 256));
      await writeFile(path('tail.bin'), blob.subarray(256));
      openssl(['pkeyutl', '-decrypt', '-inkey', path('recipient.key'), ...OAEP, '-in', path('head.bin'), '-out', path('eph.bin')]);
      const ephemeral = await readFile(path('eph.bin'));
      openssl([
        'enc',
        '-d',
        '-id-aes256-wrap-pad',
        '-K',
        ephemeral.toString('hex'),
        '-iv',
        'A65959A6',
        '-in',
        path('tail.bin'),
        '-out',
        path('back.bin'),
      ]);
      expect((await readFile(path('back.bin'))).equals(material)).toBe(true);
    }
  });

  it('usage errors and server refusals exit non-zero with the reason', async () => {
    expect((await run(['key', 'create', 'cli-byok-closed', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    const neither = await run(['key', 'import', 'cli-byok-closed']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/exactly one of --key-file and --wrapped-file/);
    await writeFile(path('short.bin'), randomBytes(16), { mode: 0o600 });
    const short = await run(['key', 'import', 'cli-byok-closed', '--key-file', path('short.bin')]);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/wrappedKey: the unwrapped key is 16 bytes; aes-256-gcm needs 32/);
    const recipient = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    await writeFile(path('r2.pem'), recipient);
    const closed = await run(['key', 'export', 'cli-byok-closed', '--version', '1', '--public-key', path('r2.pem')]);
    expect(closed.code).not.toBe(0);
    expect(closed.stderr).toMatch(/was not created exportable/);
  });
});
