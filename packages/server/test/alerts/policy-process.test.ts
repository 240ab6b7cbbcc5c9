import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, useProcesses } from '../support/processes.js';

/** The policy file in a real `keyward server` process: refused at start, reloaded on SIGHUP. */
const processes = useProcesses();
const start = (args: string[], env: Record<string, string>) => processes.spawn(['server', ...args], env);

/** Polls `check` (for at most 45 s: starts are slow on a shared machine) until it returns true. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the policy file in the server process', () => {
  it('an invalid file refuses the start with a one-line reason naming the field', async () => {
    const dir = processes.tempDir('kw-policy-proc-');
    const policy = join(dir, 'strict.yaml');
    writeFileSync(policy, 'alerts:\n  volume:\n    factor: 0\n');
    const server = start(['--data-dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--policy', policy], {});
    expect(await server.exit).toBe(1);
    expect(server.stderr()).toBe(`keyward server: ${policy}: alerts.volume.factor: must be >= 1 (line 3)\n`);
  });

  it('SIGHUP reloads: an invalid file is refused (the previous policy stays), a valid one takes over', async () => {
    const dir = processes.tempDir('kw-policy-proc-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'b2'.repeat(20)}`;
    // The default location: DATA/policy.yaml.
    writeFileSync(join(dir, 'policy.yaml'), 'alerts:\n  invalidCiphertext:\n    threshold: 7\n');
    const server = start(['--data-dir', dir, '--listen', `127.0.0.1:${port}`], { KEYWARD_INIT_ADMIN_TOKEN: token });
    const status = async () =>
      (await (await fetch(`${url}/v1/sys/policy`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, unknown>;
    await until(async () => (await fetch(`${url}/v1/sys/health`)).status === 200, 'the server');
    const first = await status();
    expect(first).toMatchObject({ path: join(dir, 'policy.yaml'), source: 'file', lastError: null });

    writeFileSync(join(dir, 'policy.yaml'), 'alerts:\n  invalidCiphertext:\n    threshold: many\n');
    server.child.kill('SIGHUP');
    await until(async () => (await status()).lastError !== null, 'the refusal');
    const refused = await status();
    expect(refused).toMatchObject({ digest: first.digest, lastError: 'alerts.invalidCiphertext.threshold: must be an integer (line 3)' });
    expect(server.stdout()).toContain('policy file refused; the previous policy stays in force');

    writeFileSync(join(dir, 'policy.yaml'), 'alerts:\n  invalidCiphertext:\n    threshold: 9\n');
    server.child.kill('SIGHUP');
    await until(async () => (await status()).digest !== first.digest && (await status()).lastError === null, 'the reload');
    expect(server.child.exitCode).toBeNull(); // SIGHUP reloads; it does not stop the server
    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
  });
});

describe('the Cedar policy directory in the server process', () => {
  it('an invalid policy refuses the start with a one-line reason naming the file and line', async () => {
    const dir = processes.tempDir('kw-cedar-proc-');
    const policies = join(dir, 'cedar');
    mkdirSync(policies);
    writeFileSync(join(policies, 'ops.cedar'), '@id("ops-x")\nforbid (principal, action, resource)\nwhen { context.hours > 20 };\n');
    const server = start(['--data-dir', dir, '--listen', `127.0.0.1:${await freePort()}`, '--policy-dir', policies], {});
    expect(await server.exit).toBe(1);
    expect(server.stderr()).toMatch(
      new RegExp(
        `^keyward server: cedar policies in ${policies}: ops\\.cedar:3: for policy \`ops-x\`, attribute \`hours\` .*not found[^\\n]*\\n$`,
      ),
    );
  });

  it('SIGHUP reloads DATA/policies: a new forbid applies to the next request; a broken file is refused and logged, the previous policies stay', async () => {
    const dir = processes.tempDir('kw-cedar-proc-');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'c3'.repeat(20)}`;
    // One worker: with several, each reloads on its own signal, and a request after one worker's reload can reach another that has not yet.
    const server = start(['--data-dir', dir, '--listen', `127.0.0.1:${port}`, '--workers', '1'], { KEYWARD_INIT_ADMIN_TOKEN: token });
    const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const cedar = async () => ((await (await get('/v1/sys/policy')).json()) as { cedar: Record<string, unknown> }).cedar;
    await until(async () => (await fetch(`${url}/v1/sys/health`)).status === 200, 'the server');
    expect(await cedar()).toMatchObject({ directory: join(dir, 'policies'), files: [], lastError: null });
    expect((await get('/v1/keys')).status).toBe(200);

    mkdirSync(join(dir, 'policies'), { recursive: true });
    writeFileSync(
      join(dir, 'policies', 'freeze.cedar'),
      '@id("ops-freeze-listing")\nforbid (principal, action == Keyward::Action::"key.list", resource);\n',
    );
    server.child.kill('SIGHUP');
    await until(async () => (await get('/v1/keys')).status === 403, 'the forbid');
    expect(await cedar()).toMatchObject({ files: ['freeze.cedar'], policies: ['ops-freeze-listing'], lastError: null });

    writeFileSync(join(dir, 'policies', 'zz-broken.cedar'), 'permit (principal, action, resource) when {');
    server.child.kill('SIGHUP');
    await until(async () => (await cedar()).lastError !== null, 'the refusal');
    expect((await cedar()).lastError).toMatch(/^zz-broken\.cedar:1: /);
    expect((await get('/v1/keys')).status).toBe(403);
    expect(server.stdout()).toContain('cedar policies refused; the previous policies stay in force');
    expect(server.child.exitCode).toBeNull();
    server.child.kill('SIGTERM');
    expect(await server.exit).toBe(0);
  });
});
