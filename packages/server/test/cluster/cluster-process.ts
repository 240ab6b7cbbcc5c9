import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { freePort, type KeywardProcess, spawnKeyward } from '../support/processes.js';
import type { TestStore } from '../support/stores.js';

/** `keyward server --workers N` as a real process tree (bin/keyward), driven over HTTP. */

/** The shared one, re-exported: the cluster tests take their helpers from this file. */
export { freePort };

export const ADMIN = `kw_${'c3'.repeat(20)}`;

export interface Reply {
  status: number;
  /** The worker that answered (X-Keyward-Worker), null when there is no such header. */
  worker: number | null;
  /** Parsed JSON (checked field by field in the tests), or the text of a non-JSON answer (metrics). */
  body: any;
}

/** Polls `check` (bounded: `tries` × 100 ms), for readiness only, never to wait out a race. */
export async function until(check: () => Promise<boolean> | boolean, what: string, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export class ClusterRun {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exit: Promise<number | null>;
  readonly #run: KeywardProcess;

  constructor(args: readonly string[], port: number, env: Record<string, string>) {
    this.port = port;
    this.#run = spawnKeyward(['server', ...args], env);
    this.child = this.#run.child;
    this.exit = this.#run.exit;
  }

  stdout(): string {
    return this.#run.stdout();
  }

  stderr(): string {
    return this.#run.stderr();
  }

  /** Parsed log lines (every line must be JSON: workers share stdout). */
  lines(): Array<Record<string, unknown>> {
    return this.stdout()
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Slot → pid of the worker that last reported listening in each slot. */
  workerPids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const line of this.lines()) if (line.msg === 'keyward listening') pids.set(line.worker as number, line.pid as number);
    return pids;
  }

  /** One request on a new connection (so that successive calls spread over the workers). */
  call(method: string, path: string, body?: unknown, token: string | null = ADMIN): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: false,
          headers: {
            connection: 'close',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const header = res.headers['x-keyward-worker'];
            resolve({
              status: res.statusCode ?? 0,
              worker: typeof header === 'string' ? Number(header) : null,
              body: text.length > 0 && res.headers['content-type']?.includes('json') ? JSON.parse(text) : text,
            });
          });
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  /**
   * Repeats `send` until every one of `workers` workers has answered at
   * least once (bounded), and returns every reply: callers check all of
   * them, so any request after a change counts, not just a later one.
   */
  async onEveryWorker(send: () => Promise<Reply>, workers = 2): Promise<Reply[]> {
    const replies: Reply[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < 50 && seen.size < workers; i++) {
      const reply = await send();
      replies.push(reply);
      if (reply.worker !== null) seen.add(reply.worker);
    }
    if (seen.size < workers) throw new Error(`only workers ${[...seen].join(', ')} answered`);
    return replies;
  }

  /** Resolves once the primary reports every worker serving (or rejects if it exits first). */
  async serving(): Promise<void> {
    let exited = false;
    void this.exit.then(() => {
      exited = true;
    });
    await until(() => {
      if (exited) throw new Error(`the server exited: ${this.stderr().trim()}`);
      return this.stdout().includes('"msg":"all workers serving"');
    }, 'every worker to serve');
  }

  /** SIGKILLs what is left of the process tree (after a test, whatever happened). */
  kill(): void {
    for (const pid of this.workerPids().values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Starts `keyward server --workers 2` on the store's data (SQLite: its file in its data dir; PostgreSQL: its database). */
export async function startCluster(store: TestStore, args: readonly string[] = [], env: Record<string, string> = {}): Promise<ClusterRun> {
  const port = await freePort();
  const all = ['--data-dir', store.dataDir, '--listen', `127.0.0.1:${port}`, '--workers', '2', ...args];
  if (store.kind === 'postgres') all.push('--database-url', store.location);
  return new ClusterRun(all, port, { KEYWARD_INIT_ADMIN_TOKEN: ADMIN, ...env });
}

export const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A scheduler counter of one worker (runs as leader, or as standby) in a `/metrics` scrape, which shows every worker. */
export function schedulerRuns(metrics: string, outcome: 'leader' | 'standby', worker: number): number {
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('keyward_scheduler_runs_total{')) continue;
    if (line.includes(`outcome="${outcome}"`) && line.includes(`worker="${worker}"`)) return Number(line.split(' ').at(-1));
  }
  return 0;
}
