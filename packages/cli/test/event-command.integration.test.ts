import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyEventView, WebhookDeliveryView, WebhookView } from '@keyward/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../../sdk/test/support/receiver.js';
import { type RunningServer, startServer } from '../../sdk/test/support/server.js';
import { buildCli, collect, keyward, spawnKeyward } from './support/keyward-process.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Runs a command that streams until interrupted: reads stdout until `done`
 * accepts it (or `timeoutMs` passes), then kills the process and answers
 * everything it printed.
 */
async function streamUntil(
  child: ChildProcess,
  done: (stdout: string) => boolean,
  timeoutMs = 15_000,
): Promise<{ stdout: string; stderr: string; exitedEarly: boolean; satisfied: boolean }> {
  let stdout = '';
  let stderr = '';
  let exitedEarly = false;
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  let satisfied = false;
  while (Date.now() < deadline) {
    if (done(stdout)) {
      satisfied = true;
      break;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      exitedEarly = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await closed;
  return { stdout, stderr, exitedEarly, satisfied };
}

describe('keyward events and webhook commands against the real server', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const run = (args: string[], stdin?: string) => keyward(args, { env, ...(stdin === undefined ? {} : { stdin }) });
  const json = <T>(text: string): T => JSON.parse(text) as T;
  const newSecret = (): string => {
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    server.remember(secret);
    return secret;
  };
  const noSecret = (secret: string, ...texts: string[]) => {
    for (const text of texts) expect(text).not.toContain(secret);
  };

  beforeAll(async () => {
    await buildCli();
    server = await startServer();
    env = { KEYWARD_ADDR: server.url, KEYWARD_TOKEN: server.token };
    dir = await mkdtemp(join(tmpdir(), 'keyward-cli-events-'));
    receiver = await startReceiver();
    expect((await run(['key', 'create', 'cli-ev', '--algorithm', 'aes-256-gcm', '--owner', 'team-cli'])).code).toBe(0);
    expect((await run(['key', 'rotate', 'cli-ev', '--reason', 'test'])).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await receiver?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await server?.stop();
  });

  it('events tail --from 0 prints the history, one line each, and keeps streaming until interrupted', async () => {
    const child = spawnKeyward(['events', 'tail', '--from', '0'], env);
    const result = await streamUntil(child, (out) => /key\.rotated/.test(out));
    expect(result.stderr).toBe('');
    expect(result.satisfied).toBe(true);
    // It streams until interrupted; it did not exit by itself.
    expect(result.exitedEarly).toBe(false);
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines[0]).toMatch(/^\d+ {2}\d{4}-\d\d-\d\dT[^ ]+Z {2}key\.created {2}default\/cli-ev {2}v1 {2}\{"algorithm":"aes-256-gcm"\}$/);
    expect(lines[1]).toMatch(/^\d+ {2}\S+ {2}key\.rotated {2}default\/cli-ev {2}v2 {2}\{.*"previousVersion":1.*\}$/);
    const ids = lines.map((line) => Number(line.split(' ')[0]));
    expect(ids[1]).toBeGreaterThan(ids[0] as number);
    expect(result.stdout).not.toContain(server.token);
  });

  it('events tail --json prints one event object per line, and --type filters', async () => {
    const child = spawnKeyward(['events', 'tail', '--from', '0', '--json'], env);
    const result = await streamUntil(child, (out) => out.split('\n').filter((l) => l !== '').length >= 2);
    expect(result.satisfied).toBe(true);
    const events = result.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => json<KeyEventView>(line));
    expect(events.slice(0, 2).map((e) => [e.type, e.key, e.version])).toEqual([
      ['key.created', 'cli-ev', 1],
      ['key.rotated', 'cli-ev', 2],
    ]);
    expect(result.stdout).not.toContain(server.token);

    const filtered = spawnKeyward(['events', 'tail', '--from', '0', '--type', 'key.rotated', '--json'], env);
    const only = await streamUntil(filtered, (out) => out.includes('\n'));
    expect(only.satisfied).toBe(true);
    // The history comes in one batch, so a wrongly unfiltered key.created would be in it.
    const rotated = only.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => json<KeyEventView>(line));
    expect(rotated.length).toBeGreaterThan(0);
    expect(rotated.every((e) => e.type === 'key.rotated')).toBe(true);
  });

  it('events tail without --from shows only new events', async () => {
    const child = spawnKeyward(['events', 'tail', '--json'], env);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(stdout).toBe('');
    expect((await run(['key', 'create', 'cli-ev-live', '--algorithm', 'hmac-sha256', '--owner', 'team-cli'])).code).toBe(0);
    const result = await streamUntil(child, () => stdout.includes('\n'));
    expect(result.satisfied).toBe(true);
    const first = json<KeyEventView>(stdout.split('\n')[0] as string);
    expect(first).toMatchObject({ type: 'key.created', key: 'cli-ev-live' });
  });

  it('events tail usage errors exit 2', async () => {
    const unknownType = await run(['events', 'tail', '--type', 'key.nope']);
    expect(unknownType.code).toBe(2);
    expect(unknownType.stderr).toContain('key.nope');
    expect(unknownType.stdout).toBe('');
    expect((await run(['events', 'tail', '--from', '-1'])).code).toBe(2);
    expect((await run(['events', 'tail', '--from', 'abc'])).code).toBe(2);
    expect((await run(['events', 'tail', 'extra'])).code).toBe(2);
  });

  it('webhook create with --secret-file: the secret is sent, never printed', async () => {
    const secret = newSecret();
    const file = join(dir, 'secret-file');
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    const created = await run(['webhook', 'create', '--url', receiver.url, '--event', 'key.rotated', '--secret-file', file, '--json']);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    noSecret(secret, created.stdout, created.stderr);
    const hook = json<WebhookView>(created.stdout);
    expect(hook).toMatchObject({ url: receiver.url, events: ['key.rotated'], state: 'active', failureReason: null });
    expect(hook.id).toMatch(UUID);
    expect(hook).not.toHaveProperty('secret');

    // The text form too.
    const secret2 = newSecret();
    await writeFile(file, secret2);
    const text = await run(['webhook', 'create', '--url', receiver.url, '--event', 'key.created', '--secret-file', file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Webhook ID: +[0-9a-f-]{36}$/m);
    expect(text.stdout).toMatch(/^Events: +key\.created$/m);
    noSecret(secret2, text.stdout, text.stderr);
    const id2 = /^Webhook ID: +([0-9a-f-]{36})$/m.exec(text.stdout)?.[1] as string;
    expect((await run(['webhook', 'remove', id2])).code).toBe(0);
  });

  it.runIf(process.platform === 'linux')('webhook create reads the secret from stdin; it is not in the argument list', async () => {
    const secret = newSecret();
    const waiting = spawnKeyward(['webhook', 'create', '--url', receiver.url, '--event', 'key.state_changed', '--json'], env);
    // The CLI is now blocked reading stdin; look at what `ps` would show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cmdline = (await readFile(`/proc/${waiting.pid}/cmdline`, 'utf8')).split('\0').join(' ');
    expect(cmdline).toContain('webhook create');
    expect(cmdline).not.toContain(secret);
    expect(cmdline).not.toContain(server.token);
    const result = await collect(waiting, `\n${secret}\n`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    noSecret(secret, result.stdout, result.stderr);
    const hook = json<WebhookView>(result.stdout);
    expect(hook.events).toEqual(['key.state_changed']);
    expect((await run(['webhook', 'remove', hook.id])).code).toBe(0);
  });

  it('webhook list, deliveries and remove', async () => {
    const secret = newSecret();
    const file = join(dir, 'secret-deliveries');
    await writeFile(file, secret);
    const created = await run(['webhook', 'create', '--url', receiver.url, '--event', 'key.rotated', '--secret-file', file, '--json']);
    expect(created.code).toBe(0);
    const hook = json<WebhookView>(created.stdout);

    const listed = await run(['webhook', 'list', '--json']);
    expect(listed.code).toBe(0);
    const webhooks = json<{ webhooks: WebhookView[] }>(listed.stdout).webhooks;
    expect(webhooks.find((w) => w.id === hook.id)).toMatchObject({ url: receiver.url, events: ['key.rotated'], state: 'active' });
    noSecret(secret, listed.stdout, listed.stderr);
    const table = await run(['webhook', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +URL +EVENTS +STATE +LAST DELIVERY$/m);
    expect(table.stdout).toContain(hook.id);

    const none = await run(['webhook', 'deliveries', hook.id]);
    expect(none).toMatchObject({ code: 0, stdout: 'no deliveries\n' });

    receiver.received.length = 0;
    expect((await run(['key', 'rotate', 'cli-ev', '--reason', 'webhook'])).code).toBe(0);
    let deliveries: WebhookDeliveryView[] = [];
    const deadline = Date.now() + 15_000;
    while (deliveries.length === 0 && Date.now() < deadline) {
      const page = await run(['webhook', 'deliveries', hook.id, '--json']);
      expect(page.code).toBe(0);
      noSecret(secret, page.stdout, page.stderr);
      deliveries = json<{ deliveries: WebhookDeliveryView[] }>(page.stdout).deliveries;
      if (deliveries.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ eventType: 'key.rotated', attempt: 1, status: 200, error: null, nextRetryAt: null });
    const text = await run(['webhook', 'deliveries', hook.id, '--limit', '5']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^TIME +EVENT +TYPE +ATTEMPT +RESULT +MS +NEXT RETRY$/m);
    expect(text.stdout).toMatch(/ key\.rotated +1 +HTTP 200 +\d+ +-$/m);
    expect(receiver.received.some((r) => r.headers['x-keyward-delivery'] === deliveries[0]?.id)).toBe(true);

    const removed = await run(['webhook', 'remove', hook.id]);
    expect(removed).toMatchObject({ code: 0, stderr: '', stdout: `removed webhook ${hook.id}\n` });
    const removedJson = await run(['webhook', 'remove', hook.id, '--json']);
    expect(removedJson.code).toBe(3);
    expect(removedJson.stderr).toMatch(/^error: not_found: /);
    const gone = await run(['webhook', 'deliveries', hook.id]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^error: not_found: /);
    expect(json<{ webhooks: WebhookView[] }>((await run(['webhook', 'list', '--json'])).stdout).webhooks.map((w) => w.id)).not.toContain(
      hook.id,
    );
  });

  it('webhook usage errors exit 2 and never echo the secret', async () => {
    const secret = newSecret();
    const file = join(dir, 'secret-usage');
    await writeFile(file, secret);
    const base = ['webhook', 'create', '--url', receiver.url];

    const unknownEvent = await run([...base, '--event', 'key.nope', '--secret-file', file]);
    expect(unknownEvent.code).toBe(2);
    noSecret(secret, unknownEvent.stdout, unknownEvent.stderr);
    expect((await run(['webhook', 'create', '--url', receiver.url, '--secret-file', file])).code).toBe(2); // no --event
    expect((await run(['webhook', 'create', '--event', 'key.rotated', '--secret-file', file])).code).toBe(2); // no --url
    // The URL is an option, not an argument.
    expect((await run(['webhook', 'create', receiver.url, '--event', 'key.rotated', '--secret-file', file])).code).toBe(2);
    // There is no way to pass the secret as an argument.
    const asArgument = await run([...base, '--event', 'key.rotated', '--secret', secret]);
    expect(asArgument.code).toBe(2);
    noSecret(secret, asArgument.stdout, asArgument.stderr);
    // An empty stdin is no secret.
    const empty = await run([...base, '--event', 'key.rotated'], '\n\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no webhook secret/);
    // An unreadable secret file is a usage error.
    expect((await run([...base, '--event', 'key.rotated', '--secret-file', join(dir, 'missing')])).code).toBe(2);
    expect((await run(['webhook', 'deliveries', '00000000-0000-4000-8000-000000000000', '--limit', '0'])).code).toBe(2);
    expect((await run(['webhook', 'remove'])).code).toBe(2);

    // Refused by the server (too short): exit 3, and the secret is not in the message.
    const short = randomBytes(12).toString('base64url').slice(0, 10);
    server.remember(short);
    await writeFile(file, short);
    const refused = await run([...base, '--event', 'key.rotated', '--secret-file', file]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: invalid_request: /);
    noSecret(short, refused.stdout, refused.stderr);
    const missing = await run(['webhook', 'remove', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: not_found: /);
  });
});
