import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, useProcesses, waitForHealth } from './support/processes.js';
import { makeSoftHsm, type SoftHsm } from './support/softhsm.js';
import { POSTGRES_URL } from './support/stores.js';

/**
 * `keyward server --seal pkcs11` as a process, against a SoftHSM2 token made
 * for each test. On PostgreSQL runs (KEYWARD_TEST_DATABASE_URL) each server
 * gets a database of its own.
 */

const databases: string[] = [];

afterEach(async () => {
  for (const db of databases.splice(0)) await adminSql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
});

// Registered after the databases' hook, so that (hooks run as a stack) the servers are killed before their databases are dropped.
const processes = useProcesses({ prefix: 'kw-pkcs11-proc-' });

async function adminSql(sql: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: POSTGRES_URL as string });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `--database-url` of a fresh database on PostgreSQL runs; nothing (SQLite in the data dir) otherwise. */
async function databaseArgs(): Promise<string[]> {
  if (POSTGRES_URL === null) return [];
  const name = `kw_pkcs11_${Math.random().toString(16).slice(2, 10)}`;
  await adminSql(`CREATE DATABASE "${name}"`);
  databases.push(name);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return ['--database-url', url.toString()];
}

/** The server with no PIN in the environment unless `env` sets one; output is stdout then stderr. */
function run(args: string[], env: Record<string, string>) {
  const r = processes.spawn(['server', ...args], { KEYWARD_PKCS11_PIN: '', ...env });
  return { ...r, output: () => r.stdout() + r.stderr() };
}

interface Setup {
  hsm: SoftHsm;
  pin: string;
  pinFile: string;
  dataDir: string;
  /** The flags every start uses (seal, token, PIN file, data dir, database). */
  args: string[];
}

async function setup(): Promise<Setup> {
  const hsm = makeSoftHsm();
  const pin = `pin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  hsm.initToken('keyward', pin);
  const dir = processes.tempDir();
  const pinFile = join(dir, 'pkcs11.pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  const dataDir = join(dir, 'data');
  const args = [
    '--data-dir',
    dataDir,
    '--seal',
    'pkcs11',
    '--pkcs11-library',
    hsm.library,
    '--pkcs11-token',
    'keyward',
    '--pkcs11-pin-file',
    pinFile,
    ...(await databaseArgs()),
  ];
  return { hsm, pin, pinFile, dataDir, args };
}

describe('keyward server --seal pkcs11 (the process, SoftHSM2)', () => {
  it('initializes a new data dir with the root key in the token, serves, restarts from the token and decrypts', async () => {
    const s = await setup();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'c3'.repeat(20)}`;
    const env = { ...s.hsm.env, KEYWARD_INIT_ADMIN_TOKEN: token };
    const first = run([...s.args, '--listen', `127.0.0.1:${port}`], env);
    await waitForHealth(first, url);
    const health = (await (await fetch(`${url}/v1/sys/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ initialized: true, sealed: false });
    expect(statSync(join(s.dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(s.dataDir, 'admin-token'), 'utf8').trim()).toBe(token);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'hsm-backed', algorithm: 'aes-256-gcm', owner: 'o' }),
    });
    expect(created.status).toBe(201);
    const plaintext = Buffer.from('sealed-by-the-token').toString('base64');
    const encrypted = await fetch(`${url}/v1/keys/hsm-backed/encrypt`, { method: 'POST', headers, body: JSON.stringify({ plaintext }) });
    expect(encrypted.status).toBe(200);
    const { ciphertext } = (await encrypted.json()) as { ciphertext: string };
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(first.output()).toContain('created the root key in the token');
    expect(first.output()).not.toContain(s.pin);
    expect(first.output()).not.toContain(token);

    // No root key on disk: the data dir holds the database and the admin token, nothing else.
    const files = readdirSync(s.dataDir);
    expect(files).not.toContain('root.key');
    for (const file of files) expect(file).toMatch(/^(keyward\.db(-wal|-shm)?|admin-token)$/);

    const second = run([...s.args, '--listen', `127.0.0.1:${port}`], s.hsm.env);
    await waitForHealth(second, url);
    const decrypted = await fetch(`${url}/v1/keys/hsm-backed/decrypt`, { method: 'POST', headers, body: JSON.stringify({ ciphertext }) });
    expect(((await decrypted.json()) as { plaintext: string }).plaintext).toBe(plaintext);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(second.output()).not.toContain('created the root key');
    expect(second.output()).not.toContain(s.pin);
  });

  it('with workers and the PIN in KEYWARD_PKCS11_PIN, many parallel first uses of KEKs do not crash the token', async () => {
    const s = await setup();
    const args = s.args.filter((a, i) => a !== '--pkcs11-pin-file' && s.args[i - 1] !== '--pkcs11-pin-file');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const token = `kw_${'d4'.repeat(20)}`;
    const env = { ...s.hsm.env, KEYWARD_PKCS11_PIN: s.pin, KEYWARD_INIT_ADMIN_TOKEN: token };
    const namespaces = Array.from({ length: 8 }, (_, i) => `team${i}`);
    // Two worker processes on one token, each with its own session.
    const start = () => run([...args, '--listen', `127.0.0.1:${port}`, '--workers', '2'], env);
    const first = start();
    await waitForHealth(first, url);
    const headers = (ns: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-keyward-namespace': ns });
    // Each namespace's first key makes its KEK: one wrap in the token per namespace, from whichever worker answers.
    const made = await Promise.all(
      namespaces.map((ns) =>
        fetch(`${url}/v1/keys`, {
          method: 'POST',
          headers: headers(ns),
          body: JSON.stringify({ name: 'k', algorithm: 'aes-256-gcm', owner: 'o' }),
        }),
      ),
    );
    expect(made.map((r) => r.status)).toEqual(namespaces.map(() => 201));
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);

    // Cold caches in both workers: every namespace's KEK is unwrapped in the token, concurrently.
    const second = start();
    await waitForHealth(second, url);
    const plaintext = Buffer.from('x').toString('base64');
    const answers = await Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const ns = namespaces[i % namespaces.length] as string;
        return fetch(`${url}/v1/keys/k/encrypt`, { method: 'POST', headers: headers(ns), body: JSON.stringify({ plaintext }) });
      }),
    );
    const failed = await Promise.all(answers.filter((r) => r.status !== 200).map(async (r) => `${r.status} ${await r.text()}`));
    expect(failed).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(first.output() + second.output()).not.toContain(s.pin);
  });

  it('a wrong PIN: exit 1 with one line that says so and does not hold the PIN', async () => {
    const s = await setup();
    const wrong = `wrong-${Date.now()}`;
    writeFileSync(s.pinFile, `${wrong}\n`, { mode: 0o600 });
    const r = run([...s.args, '--listen', `127.0.0.1:${await freePort()}`], s.hsm.env);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toBe("keyward server: the PKCS#11 PIN was refused by token 'keyward'\n");
    expect(r.output()).not.toContain(wrong);
    expect(r.output()).not.toContain(s.pin);
  });

  it('a token label that no slot holds: exit 1 with one line naming it', async () => {
    const s = await setup();
    const args = s.args.map((a) => (a === 'keyward' ? 'not-plugged-in' : a));
    const r = run([...args, '--listen', `127.0.0.1:${await freePort()}`], s.hsm.env);
    expect(await r.exit).toBe(1);
    expect(r.stderr().trim().split('\n')).toHaveLength(1);
    expect(r.stderr()).toMatch(/^keyward server: no PKCS#11 token labelled 'not-plugged-in' \(tokens present: 'keyward'\)/);
  });

  it('a PIN file readable by others: exit 1 with one line naming the file, not the PIN', async () => {
    const s = await setup();
    chmodSync(s.pinFile, 0o644);
    const r = run([...s.args, '--listen', `127.0.0.1:${await freePort()}`], s.hsm.env);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toBe(
      `keyward server: PIN file ${s.pinFile} has mode 0644; it must not be accessible to group or others (chmod 600)\n`,
    );
    expect(r.output()).not.toContain(s.pin);
  });

  it('has no flag for the PIN on argv, and needs the PIN from a file or the environment', async () => {
    const s = await setup();
    const base = s.args.filter((a, i) => a !== '--pkcs11-pin-file' && s.args[i - 1] !== '--pkcs11-pin-file');
    const onArgv = run([...base, '--pkcs11-pin', s.pin], s.hsm.env);
    expect(await onArgv.exit).toBe(2);
    expect(onArgv.stderr()).toMatch(/^keyward server: Unknown option '--pkcs11-pin'/);
    expect(onArgv.output()).not.toContain(s.pin);
    const none = run(base, s.hsm.env);
    expect(await none.exit).toBe(2);
    expect(none.stderr()).toBe('keyward server: --seal pkcs11 needs the PIN: --pkcs11-pin-file FILE or KEYWARD_PKCS11_PIN\n');
  });

  it('an initialized data dir whose key is missing from the token refuses to start instead of making a new key', async () => {
    const s = await setup();
    const port = await freePort();
    const first = run([...s.args, '--listen', `127.0.0.1:${port}`], s.hsm.env);
    await waitForHealth(first, `http://127.0.0.1:${port}`);
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const other = run([...s.args, '--pkcs11-key-label', 'elsewhere', '--listen', `127.0.0.1:${port}`], s.hsm.env);
    expect(await other.exit).toBe(1);
    expect(other.stderr()).toBe(
      "keyward server: the database is initialized but token 'keyward' holds no key labelled 'elsewhere'; check --pkcs11-token and --pkcs11-key-label, or restore the token\n",
    );
  });
});
