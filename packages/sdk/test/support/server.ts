/**
 * Starts the real Keyward server (`bin/keyward server`) on a free loopback
 * port in a fresh data directory, for integration tests of the SDK and CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { KeywardClient } from '../../src/index.js';

/** The repository root, from this file's place in it. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** `bin/keyward` of this checkout. */
export const KEYWARD_BIN = join(REPO_ROOT, 'bin', 'keyward');

export interface RunningServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The first admin token (file seal), set through KEYWARD_INIT_ADMIN_TOKEN. */
  token: string;
  dataDir: string;
  /** The server's output so far, for failure messages. */
  output(): string;
  /** Secrets a test used (tokens, plaintexts, shares); `stop()` fails if the server logged any. */
  remember(...secrets: string[]): void;
  /** SIGTERM, wait for the exit, remove the data directory; throws if a remembered secret is in the server's output. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** `file` (default: ready at once) or `shamir` (answers 503 until initialized and unsealed). */
  seal?: 'file' | 'shamir';
  /** Milliseconds to wait for the first answer. */
  timeoutMs?: number;
}

/**
 * Starts a server and resolves once GET /v1/sys/health answers (200 for the
 * file seal; 200 or 503 for the Shamir seal, which starts uninitialized).
 *
 * @example
 * const server = await startServer();
 * const client = new KeywardClient({ address: server.url, token: server.token });
 * await server.stop();
 */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const seal = options.seal ?? 'file';
  const dataDir = await mkdtemp(join(tmpdir(), 'keyward-it-'));
  const port = await freePort();
  const token = `kw_test_${randomBytes(24).toString('base64url')}`;
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(KEYWARD_BIN, ['server', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--seal', seal], {
    // One process: these tests are about the API, and expect one audit chain (test/cluster covers workers).
    env: { ...process.env, KEYWARD_INIT_ADMIN_TOKEN: token, KEYWARD_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const secrets = new Set<string>([token]);
  const stop = async (): Promise<void> => {
    await terminate(child, exited);
    await rm(dataDir, { recursive: true, force: true });
    const leaked = [...secrets].filter((s) => output.includes(s));
    if (leaked.length > 0) throw new Error(`the server logged ${leaked.length} secret(s) the test used`);
  };
  try {
    await waitForHealth(url, seal === 'file' ? [200] : [200, 503], exited, options.timeoutMs ?? 30_000, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  const remember = (...values: string[]) => {
    for (const v of values) if (v.length >= 8) secrets.add(v);
  };
  return { url, token, dataDir, output: () => output, remember, stop };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHealth(
  url: string,
  ready: readonly number[],
  exited: Promise<number | null>,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`keyward server exited with ${exitCode} before answering:\n${output()}`);
    try {
      const response = await fetch(`${url}/v1/sys/health`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (ready.includes(response.status)) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`keyward server did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
}

async function terminate(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a real server for the enclosing `describe` (beforeAll/afterAll) and
 * gives an admin client for it.
 *
 * @example
 * const ctx = useServer();
 * it('…', async () => { await ctx.admin.health(); });
 */
export function useServer(options: StartOptions = {}): { readonly server: RunningServer; readonly admin: KeywardClient } {
  let server: RunningServer | undefined;
  let admin: KeywardClient | undefined;
  beforeAll(async () => {
    server = await startServer(options);
    admin = new KeywardClient({ address: server.url, token: server.token });
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('the server starts in beforeAll');
      return server;
    },
    get admin() {
      if (admin === undefined) throw new Error('the server starts in beforeAll');
      return admin;
    },
  };
}
