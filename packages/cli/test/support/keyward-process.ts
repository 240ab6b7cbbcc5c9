import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KEYWARD_BIN, REPO_ROOT } from '../../../sdk/test/support/server.js';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

export interface ProcessOptions {
  /** Written to stdin, then stdin is closed. */
  stdin?: string | Uint8Array;
  env?: Record<string, string | undefined>;
}

/**
 * Runs `bin/keyward ARGS` as a child process, the way a user does: the
 * address and token come from the environment, never from arguments.
 */
export function keyward(args: readonly string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  const child = spawnKeyward(args, options.env);
  return collect(child, options.stdin);
}

/** Starts `bin/keyward ARGS` and leaves stdin open (for inspecting the running process). */
export function spawnKeyward(args: readonly string[], env: Record<string, string | undefined> = {}): ChildProcess {
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    KEYWARD_ADDR: undefined,
    KEYWARD_TOKEN: undefined,
    KEYWARD_NAMESPACE: undefined,
    ...env,
  };
  return spawn(KEYWARD_BIN, [...args], { env: environment, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Feeds stdin, waits for the exit, and gathers the output. */
export function collect(child: ChildProcess, stdin?: string | Uint8Array): Promise<ProcessResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const done = new Promise<ProcessResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8') });
    });
  });
  child.stdin?.end(stdin ?? '');
  return done;
}

/** Builds the CLI (and the SDK it uses) so that bin/keyward runs the current sources. */
export async function buildCli(): Promise<void> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-b', 'packages/cli'], { cwd: REPO_ROOT });
}
