import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CedarPolicyStatusView } from '@keyward/wire';
import type { CedarPolicySource } from './cedar-authorizer.js';
import { builtinPolicies, type CedarPolicies, CedarPolicyError, type CedarSource, compilePolicies } from './cedar-policies.js';

/** The Cedar policies in force and their state for `GET /v1/sys/policy`. */
export interface CedarPolicyStatusSource extends CedarPolicySource {
  status(): CedarPolicyStatusView;
}

/** Only the shipped policies (an embedded Keyward, tests): no directory. */
export class BuiltinCedarPolicies implements CedarPolicyStatusSource {
  readonly #loadedAt: string;
  constructor(loadedAt = new Date(0)) {
    this.#loadedAt = loadedAt.toISOString();
  }
  current(): CedarPolicies {
    return builtinPolicies();
  }
  status(): CedarPolicyStatusView {
    return { directory: null, files: [], policies: [], digest: null, loadedAt: this.#loadedAt, lastError: null, lastErrorAt: null };
  }
}

const isPolicyFile = (name: string): boolean => name.endsWith('.cedar') && !name.startsWith('.');

/**
 * Reads every `*.cedar` file of `directory` (sorted by name); null when the
 * directory does not exist. Any other failure to read is a {@link CedarPolicyError}.
 */
export async function readPolicyDirectory(directory: string): Promise<CedarSource[] | null> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter(isPolicyFile).sort();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return null;
    throw new CedarPolicyError(`${directory}: cannot read the directory (${String((error as { code?: unknown }).code ?? 'error')})`);
  }
  const sources: CedarSource[] = [];
  for (const name of names) {
    try {
      sources.push({ name, text: await readFile(join(directory, name), 'utf8') });
    } catch (error) {
      throw new CedarPolicyError(`${name}:1: cannot read the file (${String((error as { code?: unknown }).code ?? 'error')})`);
    }
  }
  return sources;
}

/**
 * The policy directory (`--policy-dir`, default `DATA/policies/`): every
 * `*.cedar` file in it, added to the shipped policies. Read at start,
 * reloaded on change (`watch`) and on demand (`reload`, wired to SIGHUP),
 * exactly as the policy file is: all or nothing. A set with a file that
 * fails to parse or to validate against the schema is refused whole, the
 * previous policies stay in force, and the reason is kept for
 * `GET /v1/sys/policy`. A directory missing at start means no operator
 * policies; one that disappears later is refused like an invalid set.
 */
export class PolicyDirectory implements CedarPolicyStatusSource {
  readonly path: string;
  readonly #now: () => Date;
  #policies: CedarPolicies = builtinPolicies();
  #loadedAt: Date;
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, now: () => Date) {
    this.path = resolve(path);
    this.#now = now;
    this.#loadedAt = now();
  }

  /**
   * Reads the directory at start-up. Throws a {@link CedarPolicyError} naming
   * the file and line of the first error: the server must not start on a set it refuses.
   *
   * @example
   * const policies = await PolicyDirectory.open(join(dataDir, 'policies'));
   */
  static async open(path: string, options: { now?: () => Date } = {}): Promise<PolicyDirectory> {
    const directory = new PolicyDirectory(path, options.now ?? (() => new Date()));
    const error = await directory.reload();
    if (error !== null) throw new CedarPolicyError(`cedar policies in ${directory.path}: ${error.message}`);
    return directory;
  }

  current(): CedarPolicies {
    return this.#policies;
  }

  status(): CedarPolicyStatusView {
    const builtin = builtinPolicies().policies;
    return {
      directory: this.path,
      files: [...this.#policies.files],
      policies: [...this.#policies.policies.keys()].filter((id) => !builtin.has(id)),
      digest: this.#policies.digest,
      loadedAt: this.#loadedAt.toISOString(),
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt?.toISOString() ?? null,
    };
  }

  /**
   * Reads the directory again. Returns null when its policies are in force
   * (new or unchanged), or the reason they were refused (the previous ones
   * stay). Reloads run one at a time, in call order.
   */
  reload(): Promise<CedarPolicyError | null> {
    const next = this.#queue.then(() => this.#reload());
    this.#queue = next.catch(() => {});
    return next;
  }

  async #reload(): Promise<CedarPolicyError | null> {
    let policies: CedarPolicies;
    try {
      const sources = await readPolicyDirectory(this.path);
      // Removing a file removes its policies; a directory that disappears is refused (it must not quietly relax them).
      if (sources === null && this.#policies.digest !== null) {
        throw new CedarPolicyError('the directory is missing; restore it (the previous policies stay in force until then)');
      }
      policies = compilePolicies(sources ?? []);
    } catch (error) {
      if (!(error instanceof CedarPolicyError)) throw error;
      this.#lastError = error.message;
      this.#lastErrorAt = this.#now();
      return error;
    }
    this.#lastError = null;
    this.#lastErrorAt = null;
    if (policies.digest !== this.#policies.digest) {
      this.#policies = policies;
      this.#loadedAt = this.#now();
    }
    return null;
  }

  /**
   * Reloads whenever a `*.cedar` file is added, removed, replaced or written,
   * and tells `onResult` how each reload went. Polls every `intervalMs` (a
   * readdir and a stat per file) for the reasons PolicyFile.watch gives; the
   * timer does not keep the process alive. Returns a function that stops it.
   */
  watch(onResult: (error: CedarPolicyError | null) => void, intervalMs = 2_000): () => void {
    let previous: string | null = null;
    let busy = false;
    const poll = async () => {
      const signature = await this.#signature();
      if (previous !== null && signature !== previous) {
        await this.reload().then(onResult, (error: unknown) =>
          onResult(new CedarPolicyError(`reload failed: ${(error as Error).message}`)),
        );
      }
      previous = signature;
    };
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void poll().finally(() => {
        busy = false;
      });
    }, intervalMs);
    timer.unref();
    void poll();
    return () => clearInterval(timer);
  }

  /** What changes when any policy file does: names, sizes, modification times, inodes. */
  async #signature(): Promise<string> {
    try {
      const names = (await readdir(this.path)).filter(isPolicyFile).sort();
      const parts = await Promise.all(
        names.map(async (name) => {
          const s = await stat(join(this.path, name)).catch(() => null);
          return s === null ? `${name}:gone` : `${name}:${s.size}:${s.mtimeMs}:${s.ino}`;
        }),
      );
      return parts.join('\n');
    } catch (error) {
      return `unreadable:${String((error as { code?: unknown }).code)}`;
    }
  }
}
