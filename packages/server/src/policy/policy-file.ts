import { createHash } from 'node:crypto';
import { type Stats, unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PolicyStatusView } from '@keyward/wire';
import { readVerifyIdentity, VerifyIdentityError } from '../backup/verify-identity.js';
import { type Clock, systemClock } from '../service/clock.js';
import { PolicyError, parsePolicy } from './parse-policy.js';
import { DEFAULT_POLICY, type Policy } from './policy.js';

/** Where the policy in force comes from; what the service reads on every use. */
export interface PolicySource {
  current(): Policy;
  status(): PolicyFileStatusView;
}

/** What the policy file says of itself; `GET /v1/sys/policy` adds the Cedar policies' state. */
export type PolicyFileStatusView = Omit<PolicyStatusView, 'cedar'>;

/** A policy that never changes (an embedded Keyward, tests): the defaults unless given. */
export class FixedPolicy implements PolicySource {
  readonly #policy: Policy;
  readonly #status: PolicyFileStatusView;
  constructor(policy: Policy = DEFAULT_POLICY, loadedAt = new Date(0)) {
    this.#policy = policy;
    this.#status = Object.freeze({
      path: '',
      source: policy === DEFAULT_POLICY ? 'defaults' : 'file',
      loadedAt: loadedAt.toISOString(),
      digest: null,
      lastError: null,
      lastErrorAt: null,
      classes: policy.classes,
    });
  }
  current(): Policy {
    return this.#policy;
  }
  status(): PolicyFileStatusView {
    return this.#status;
  }
}

/**
 * The policy file (`--policy`, default `DATA/policy.yaml`): read at start,
 * reloaded on change (`watch`) and on demand (`reload`, wired to SIGHUP).
 *
 * A reload is all or nothing: a file that fails to parse or validate is
 * refused whole, the previous policy stays in force, and the reason is kept
 * for `GET /v1/sys/policy`. A missing file at start means the documented
 * defaults; a file that disappears later is refused like an invalid one
 * (deleting the policy must not quietly relax it).
 */
export class PolicyFile implements PolicySource {
  readonly path: string;
  readonly #clock: Clock;
  readonly #listeners = new Set<(policy: Policy) => void>();
  #policy: Policy = DEFAULT_POLICY;
  #source: 'file' | 'defaults' = 'defaults';
  #digest: string | null = null;
  #loadedAt: Date;
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, clock: Clock) {
    this.path = resolve(path);
    this.#clock = clock;
    this.#loadedAt = clock.now();
  }

  /**
   * Reads the policy at start-up. Throws a {@link PolicyError} for an invalid
   * or unreadable file: with no previous policy to keep, the server must not start.
   *
   * @example
   * const policy = await PolicyFile.open(join(dataDir, 'policy.yaml'));
   */
  static async open(path: string, options: { clock?: Clock } = {}): Promise<PolicyFile> {
    const file = new PolicyFile(path, options.clock ?? systemClock);
    const error = await file.reload();
    if (error !== null) throw new PolicyError(`${file.path}: ${error.message}`);
    return file;
  }

  current(): Policy {
    return this.#policy;
  }

  status(): PolicyFileStatusView {
    return {
      path: this.path,
      source: this.#source,
      loadedAt: this.#loadedAt.toISOString(),
      digest: this.#digest,
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt?.toISOString() ?? null,
      classes: this.#policy.classes,
    };
  }

  /** Calls `listener` with each newly loaded policy; returns a function that stops it. */
  onChange(listener: (policy: Policy) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the file again. Returns null when the file is in force (new or
   * unchanged), or the reason it was refused (the previous policy stays).
   * Reloads run one at a time, in call order.
   */
  reload(): Promise<PolicyError | null> {
    const next = this.#queue.then(() => this.#reload());
    this.#queue = next.catch(() => {});
    return next;
  }

  async #reload(): Promise<PolicyError | null> {
    let text: Buffer;
    try {
      text = await readFile(this.path);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT' && this.#source === 'defaults') return this.#accept(DEFAULT_POLICY, 'defaults', null);
      return this.#refuse(
        code === 'ENOENT'
          ? 'the file is missing; restore it (the previous policy stays in force until then)'
          : `cannot read the file (${typeof code === 'string' ? code : 'error'})`,
      );
    }
    const digest = createHash('sha256').update(text).digest('hex');
    if (digest === this.#digest) return this.#accept(this.#policy, 'file', digest);
    let policy: Policy;
    try {
      policy = parsePolicy(text.toString('utf8'));
      // The verification identity must be usable now, not at the first scheduled backup (its content is not kept).
      await readVerifyIdentity(policy.backups);
    } catch (error) {
      if (error instanceof PolicyError || error instanceof VerifyIdentityError) return this.#refuse(error.message);
      throw error;
    }
    return this.#accept(policy, 'file', digest);
  }

  #accept(policy: Policy, source: 'file' | 'defaults', digest: string | null): null {
    this.#lastError = null;
    this.#lastErrorAt = null;
    if (policy === this.#policy && digest === this.#digest) return null;
    this.#policy = policy;
    this.#source = source;
    this.#digest = digest;
    this.#loadedAt = this.#clock.now();
    for (const listener of [...this.#listeners]) listener(policy);
    return null;
  }

  #refuse(message: string): PolicyError {
    this.#lastError = message;
    this.#lastErrorAt = this.#clock.now();
    return new PolicyError(message);
  }

  /**
   * Reloads whenever the file changes (a write, an editor's write-and-rename,
   * creation, removal), and tells `onResult` how each reload went.
   *
   * It polls the file's status every `intervalMs` rather than using
   * fs.watch on the directory: the default policy lives in the data
   * directory, next to a database written on every request, and a directory
   * watch would wake this process for each of those writes. A stat every two
   * seconds costs nothing and survives the file being replaced or created
   * later. The poller does not keep the process alive. Returns a function
   * that stops it.
   */
  watch(onResult: (error: PolicyError | null) => void, intervalMs = 2_000): () => void {
    const listener = (current: Stats, previous: Stats) => {
      if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
      this.reload().then(onResult, (error: unknown) => onResult(new PolicyError(`reload failed: ${(error as Error).message}`)));
    };
    watchFile(this.path, { persistent: false, interval: intervalMs }, listener);
    return () => unwatchFile(this.path, listener);
  }
}
