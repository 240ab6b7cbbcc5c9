import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** `bin/keyward` of this checkout: process tests run the built server (`npm run build` first). */
export const KEYWARD_BIN = fileURLToPath(new URL('../../../../bin/keyward', import.meta.url));

/** A loopback port free right now (listen on port 0, read it, close), for a server about to start. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A spawned `bin/keyward` and what it has printed so far. */
export interface KeywardProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved in the order they arrived. */
  output(): string;
  /** The exit code (null when a signal ended it). */
  exit: Promise<number | null>;
}

/** Spawns `bin/keyward args` with `env` over process.env (an undefined value unsets the variable), capturing its output. */
export function spawnKeyward(args: readonly string[], env: NodeJS.ProcessEnv = {}): KeywardProcess {
  const child = spawn(KEYWARD_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let all = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    all += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    all += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, output: () => all, exit };
}

/** How long a start may take by default: generous, as a start loads the Cedar engine and migrates, and CI machines are shared. */
const START_TIMEOUT_MS = 45_000;

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
const pause = () => new Promise((r) => setTimeout(r, 100));

/** Resolves once the output holds `text`; throws, quoting the output, if the process exits first or `timeoutMs` passes. */
export async function waitForOutput(run: KeywardProcess, text: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text)) {
    if (exited(run.child))
      throw new Error(`keyward exited (${run.child.exitCode ?? run.child.signalCode}) before printing '${text}': ${run.output()}`);
    if (Date.now() > deadline) throw new Error(`keyward did not print '${text}' within ${timeoutMs} ms: ${run.output()}`);
    await pause();
  }
}

/** Resolves once `url`/v1/sys/health answers 200; throws, quoting the output, if the process exits first or `timeoutMs` passes. */
export async function waitForHealth(run: KeywardProcess, url: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited(run.child))
      throw new Error(`keyward exited (${run.child.exitCode ?? run.child.signalCode}) before it was ready: ${run.output()}`);
    const ok = await fetch(`${url}/v1/sys/health`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return;
    await pause();
  }
  throw new Error(`keyward did not answer ${url}/v1/sys/health within ${timeoutMs} ms: ${run.output()}`);
}

/** SIGTERM and wait for the exit; nothing if the process has exited already. */
export async function stop(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await gone;
}

/** Spawning and temp dirs that a test file's cleanup hook undoes. */
export interface Processes {
  /** spawnKeyward, SIGKILLed at cleanup if still running. */
  spawn(args: readonly string[], env?: NodeJS.ProcessEnv): KeywardProcess;
  /** A new directory under the OS temp dir, removed at cleanup. */
  tempDir(prefix?: string): string;
}

/**
 * Registers the cleanup (with `after`: afterEach by default, afterAll for
 * servers shared across a file's tests) that SIGKILLs what `spawn` started
 * and is still running and removes what `tempDir` made, so a failed test
 * leaves no server or directory behind.
 */
export function useProcesses(options: { prefix?: string; after?: (cleanup: () => void) => void } = {}): Processes {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  (options.after ?? afterEach)(() => {
    for (const c of children.splice(0)) if (!exited(c)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    spawn(args, env) {
      const run = spawnKeyward(args, env);
      children.push(run.child);
      return run;
    },
    tempDir(prefix = options.prefix ?? 'kw-test-') {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}
