import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, keyward } from './support/keyward-process.js';

describe('keyward incident against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const run = (args: string[], stdin?: string) => keyward(args, { env, ...(stdin === undefined ? {} : { stdin }) });

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token, KEYWARD_NAMESPACE: 'cli-incidents' };
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('compromise prints the steps as they happen, then the incident and its blast radius', async () => {
    expect((await run(['key', 'create', 'cli-exposed', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    const stored = await run(['encrypt', '--key', 'cli-exposed'], 'customer record');
    expect(stored.code, stored.stderr).toBe(0);
    await writeFile(join(server.dataDir, 'stored.txt'), `${stored.stdout.trim()}\n`);

    const declared = await run([
      'incident',
      'compromise',
      'cli-exposed',
      '--reason',
      'found in a pastebin',
      '--raise-min-decryption-version-after',
      '7d',
    ]);
    expect(declared.code, declared.stderr).toBe(0);
    const lines = declared.stdout.split('\n');
    expect(lines[0]).toBe("declaring version (primary) of key 'cli-exposed' compromised");
    expect(lines.slice(1, 7).map((l) => l.split(/ +/).slice(0, 2).join(' '))).toEqual([
      'contain running',
      'contain done',
      'rotate done',
      'notify done',
      'blast_radius done',
      'recovery running',
    ]);
    expect(declared.stdout).toMatch(/^Key: +cli-incidents\/cli-exposed version 1$/m);
    expect(declared.stdout).toMatch(/^Time to contain: +\d+ ms$/m);
    expect(declared.stdout).toMatch(/^Re-keyed: +version 2 at /m);
    expect(declared.stdout).toMatch(/^Recovery: +0 of 1 ciphertexts and data keys rewrapped; 1 left$/m);
    expect(declared.stdout).toMatch(/^Blast radius:$/m);
    expect(declared.stdout).toMatch(/^Principals: +admin$/m);
    expect(declared.stdout).toMatch(/^admin +127\.0\.0\.1 +encrypt +1 +\S+ +\S+$/m);
    expect(declared.stdout).toMatch(/^Issued under it: +1 ciphertexts, 0 data keys, 0 signatures, 0 MACs$/m);

    const list = await run(['incident', 'list', '--state', 'open']);
    expect(list.code).toBe(0);
    const id = /^([0-9a-f-]{36}) +open +cli-exposed +1 /m.exec(list.stdout)?.[1] as string;
    expect(id).toBeDefined();

    const again = await run(['incident', 'compromise', 'cli-exposed', '--version', '1', '--reason', 'again']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`error: conflict: incident ${id} is already open for version 1`);

    // Recovery: rewrap what was stored, one ciphertext a line.
    const rewrapped = await run(['incident', 'rewrap', id, '--in', join(server.dataDir, 'stored.txt')]);
    expect(rewrapped.code, rewrapped.stderr).toBe(0);
    expect(rewrapped.stderr).toMatch(/rewrapped 1 of 1; recovery: 0 of 1 issued still to rewrap \(complete\)/);
    const decrypted = await run(['decrypt', '--key', 'cli-exposed'], rewrapped.stdout);
    expect(decrypted.stdout).toBe('customer record');

    const radius = await run(['incident', 'blast-radius', id, '--json']);
    expect(JSON.parse(radius.stdout).afterContainment.uses).toEqual([
      expect.objectContaining({ principal: 'admin', operation: 'rewrap-from', count: 1 }),
    ]);

    const noCause = await run(['incident', 'update', id, '--close']);
    expect(noCause.code).toBe(3);
    expect(noCause.stderr).toContain('cannot close without a root cause');
    const updated = await run([
      'incident',
      'update',
      id,
      '--root-cause',
      'a debug log printed the key',
      '--follow-up',
      'remove key logging',
      '--follow-up',
      'scan logs for key material',
      '--owner',
      'team-cli',
      '--due',
      '2026-12-31',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/^1 +no +team-cli +2026-12-31 +remove key logging$/m);
    const closed = await run(['incident', 'update', id, '--done', '1', '--close', '--json']);
    expect(closed.code, closed.stderr).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject({
      state: 'closed',
      rootCause: 'a debug log printed the key',
      followUps: [{ done: true }, { done: false }],
    });
    const shown = await run(['incident', 'show', id]);
    expect(shown.stdout).toMatch(/^State: +closed$/m);
    expect(shown.stdout).toMatch(/^close +done +\S+ +closed by admin; root cause recorded; 2 follow-ups \(1 open\)$/m);
  });

  it('--json answers the incident with its blast radius; usage errors exit 2', async () => {
    expect((await run(['key', 'create', 'cli-json', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    const declared = await run(['incident', 'compromise', 'cli-json', '--reason', 'test', '--json']);
    expect(declared.code, declared.stderr).toBe(0);
    expect(JSON.parse(declared.stdout)).toMatchObject({ key: 'cli-json', version: 1, rotatedTo: 2, blastRadius: { principals: [] } });
    expect(declared.stderr).toMatch(/^contain +running /m);
    expect((await run(['incident', 'compromise', 'cli-json'])).code).toBe(2);
    expect((await run(['incident', 'update', 'x', '--follow-up', 'y'])).stderr).toContain('--follow-up needs --owner');
    expect((await run(['incident', 'list', '--state', 'bogus'])).code).toBe(2);
    expect((await run(['incident', 'show', '00000000-0000-4000-8000-000000000000'])).code).toBe(3);
  });
});
