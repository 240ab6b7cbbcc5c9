import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseDuration } from '../keys/duration.js';
import type { PolicySource } from '../policy/policy-file.js';
import { Periodic } from '../scheduler/periodic.js';
import type { Seal } from '../seal/seal.js';
import type { Clock } from '../service/clock.js';
import type { AuditRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { encryptArchive, writeArchive } from './archive-writer.js';
import { parseRecipients } from './recipients.js';
import { verifyArchive } from './verify.js';
import { readVerifyIdentity, VerifyIdentityError } from './verify-identity.js';

/** `keyward-backup-20260601T000000Z.age`: names sort by time. */
const ARCHIVE_NAME = /^keyward-backup-(\d{8}T\d{6}Z)\.age$/;
/** A temporary file a run writes before renaming it; one left by a crash is deleted by the next due run. */
const PARTIAL_NAME = /^keyward-backup-\d{8}T\d{6}Z\.age\.[0-9a-f-]{36}\.partial$/;

/** The restore drill after a pass (policy `backups.verify`): whether the new archive proved out, and the counts audited. */
export interface ScheduledDrill {
  ok: boolean;
  details: AuditRecord['details'];
}

/** What one pass did; `drill` is null when the policy asks for the read-back check only. */
export type ScheduledRun =
  | { ran: false; reason: 'off' | 'standby' | 'sealed' | 'not-due' }
  | { ran: true; file: string; bytes: number; deleted: string[]; drill: ScheduledDrill | null };

export interface ScheduledBackupsDeps {
  store: Store;
  seal: Seal;
  policy: PolicySource;
  clock: Clock;
  node: string;
  version: string;
  /** Writes one audit record (the audit log's `record`). */
  audit: (record: AuditRecord) => Promise<void>;
  /** Told of every pass that was due: the outcome, the archive's size and the pass's time. */
  onRun?: (outcome: 'success' | 'error', bytes: number, at: Date) => void;
  /** Told of every restore drill after a pass (policy `backups.verify`): its outcome and time. */
  onVerify?: (outcome: 'success' | 'error', at: Date) => void;
  onError?: (error: unknown) => void;
}

/**
 * Scheduled backups (docs/operations.md "Scheduled backups"), driven by the
 * policy file's `backups:` section: when the newest archive in the directory
 * is at least `interval` old, the leader writes a new one (the same archive
 * as `POST /v1/sys/backup`, age-encrypted to the policy's recipients) under a
 * temporary name, fsyncs it, reads it back and checks it holds exactly the
 * bytes written (without `backups.verify` the server holds no identity, so
 * it cannot decrypt: the restore drill is `keyward backup verify` with a
 * custodian's identity),
 * renames it into place and deletes all but the newest `retention`
 * archives. Each pass that was due is audited as `backup.scheduled`.
 *
 * With `backups.verify.identityFile` the server holds a verification
 * identity (one of the recipients), and after the read-back it runs the
 * restore drill of `keyward backup verify` on the new archive
 * ({@link verifyArchive}: a scratch store in a temporary directory, removed
 * afterwards; the live store is only read by the backup): every key
 * version against its known-answer value, the audit chains against their
 * recorded heads. The drill is audited as `backup.verify`; a failed drill
 * keeps every older archive (the new one is not known to restore).
 */
export class ScheduledBackups {
  readonly #deps: ScheduledBackupsDeps;
  readonly #periodic: Periodic<ScheduledRun>;

  constructor(deps: ScheduledBackupsDeps) {
    this.#deps = deps;
    this.#periodic = new Periodic(() => this.#run(), deps.onError ?? (() => {}));
  }

  /** One pass; concurrent calls share it. */
  runOnce(): Promise<ScheduledRun> {
    return this.#periodic.runOnce();
  }

  start(intervalMs: number): void {
    this.#periodic.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.#periodic.stop();
  }

  async #run(): Promise<ScheduledRun> {
    const policy = this.#deps.policy.current().backups;
    if (policy === null) return { ran: false, reason: 'off' };
    if (!(await this.#deps.store.isLeader())) return { ran: false, reason: 'standby' };
    // Sealed, nothing can be unwrapped: the pass waits for the unseal rather than failing every minute.
    if (this.#deps.seal.status().sealed) return { ran: false, reason: 'sealed' };
    const now = this.#deps.clock.now();
    const requestId = `backup-${randomUUID()}`;
    const file = `keyward-backup-${stamp(now)}.age`;
    const details: AuditRecord['details'] = { file };
    try {
      const existing = await archives(policy.directory);
      const newest = existing.at(-1);
      if (newest !== undefined && now.getTime() - newest.time.getTime() < parseDuration('backups.interval', policy.interval)) {
        return { ran: false, reason: 'not-due' };
      }
      const { fingerprints, kind } = parseRecipients(policy.recipients);
      Object.assign(details, { recipients: fingerprints.join(','), recipientKind: kind });
      await mkdir(policy.directory, { recursive: true, mode: 0o700 });
      for (const name of await readdir(policy.directory)) {
        if (PARTIAL_NAME.test(name)) await rm(join(policy.directory, name), { force: true });
      }
      const path = join(policy.directory, file);
      const bytes = await this.#write(path, policy.recipients, now);
      const drill = policy.verify === null ? null : await this.#drill(path, file);
      // A failed drill prunes nothing: the older archives may be the only ones that restore.
      const names = [...existing.map((a) => a.name), file];
      const kept = new Set(drill === null || drill.ok ? names.slice(-policy.retention) : names);
      const deleted = existing.map((a) => a.name).filter((name) => !kept.has(name));
      for (const name of deleted) await rm(join(policy.directory, name), { force: true });
      Object.assign(details, { bytes, verified: true, deleted: deleted.length, kept: kept.size });
      await this.#audit(now, requestId, 'success', details);
      this.#deps.onRun?.('success', bytes, now);
      if (drill !== null) {
        const outcome = drill.ok ? 'success' : 'error';
        await this.#audit(now, requestId, outcome, drill.details, 'backup.verify');
        this.#deps.onVerify?.(outcome, now);
      }
      return { ran: true, file, bytes, deleted, drill };
    } catch (error) {
      // The reason goes to the server log (onError); the audit record says only that it failed.
      await this.#audit(now, requestId, 'error', details).catch(() => {});
      this.#deps.onRun?.('error', 0, now);
      throw error;
    }
  }

  /** Writes the archive to `path` (via a temporary file), checks it reads back byte for byte; returns its size. */
  async #write(path: string, recipients: readonly string[], now: Date): Promise<number> {
    const temp = `${path}.${randomUUID()}.partial`;
    const handle = await open(temp, 'wx', 0o600);
    const written = createHash('sha256');
    let bytes = 0;
    try {
      const plaintext = new PassThrough();
      const source = { store: this.#deps.store, seal: this.#deps.seal, node: this.#deps.node, keyward: this.#deps.version, now };
      const producing = writeArchive(source, async (chunk) => {
        if (!plaintext.write(chunk)) await Promise.race([once(plaintext, 'drain'), once(plaintext, 'close')]);
      }).then(
        () => plaintext.end(),
        (error: unknown) => {
          plaintext.destroy(error instanceof Error ? error : new Error(String(error)));
          throw error;
        },
      );
      const encrypted = await encryptArchive(recipients, Readable.toWeb(plaintext) as ReadableStream<Uint8Array>);
      for await (const chunk of Readable.fromWeb(encrypted as WebReadableStream<Uint8Array>) as AsyncIterable<Uint8Array>) {
        written.update(chunk);
        bytes += chunk.length;
        await handle.write(chunk);
      }
      await producing;
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    const read = createHash('sha256');
    for await (const chunk of createReadStream(temp)) read.update(chunk as Buffer);
    if (read.digest('hex') !== written.digest('hex')) {
      await rm(temp, { force: true });
      throw new Error(`the backup written to ${temp} did not read back as written`);
    }
    await rename(temp, path);
    return bytes;
  }

  /**
   * The restore drill on the archive just written, with the policy's
   * verification identity (read and checked again now). Never throws: a
   * drill that cannot run (identity file gone or loosened, archive
   * unreadable) is a failed drill, its reason for the server log.
   */
  async #drill(path: string, file: string): Promise<ScheduledDrill> {
    const details: AuditRecord['details'] = { file, method: 'restore-drill' };
    try {
      const identities = await readVerifyIdentity(this.#deps.policy.current().backups);
      if (identities === null) throw new Error('backups.verify was removed from the policy during the run');
      const report = await verifyArchive({ archive: path, identities });
      Object.assign(details, {
        expected: report.versions.expected,
        versionsChecked: report.versions.checked,
        versionsPassed: report.versions.passed,
        versionsFailed: report.versions.failed,
        versionsInToken: report.versions.inToken,
        auditValid: report.audit.valid,
        auditChains: report.audit.chains,
        auditRecords: report.audit.records,
      });
      if (!report.ok) {
        const first = report.failures[0];
        const why =
          first !== undefined
            ? `key ${first.name} version ${first.version}: ${first.problem}`
            : `audit: ${report.audit.problem?.message ?? 'the chains do not verify'}`;
        this.#deps.onError?.(new Error(`the scheduled backup ${file} failed its restore drill (${why})`));
      }
      return { ok: report.ok, details };
    } catch (error) {
      // The cause goes to the server log; the record says only which step could not be done.
      details.stage = error instanceof VerifyIdentityError ? 'identity' : 'restore';
      this.#deps.onError?.(error);
      return { ok: false, details };
    }
  }

  #audit(
    now: Date,
    requestId: string,
    outcome: 'success' | 'error',
    details: AuditRecord['details'],
    action: 'backup.scheduled' | 'backup.verify' = 'backup.scheduled',
  ): Promise<void> {
    return this.#deps.audit({
      time: now.toISOString(),
      actor: 'keyward',
      action,
      namespace: null,
      key: null,
      keyVersion: null,
      outcome,
      errorCode: outcome === 'error' ? 'internal' : null,
      requestId,
      source: 'scheduler',
      details,
    });
  }
}

/** Archives in `directory`, oldest first; a missing directory holds none. */
export async function archives(directory: string): Promise<Array<{ name: string; time: Date }>> {
  const names = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  return names
    .filter((name) => ARCHIVE_NAME.test(name))
    .sort()
    .map((name) => {
      const s = (ARCHIVE_NAME.exec(name) as RegExpExecArray)[1] as string;
      return {
        name,
        time: new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`),
      };
    });
}

/** `2026-06-01T00:00:00.000Z` → `20260601T000000Z`. */
function stamp(time: Date): string {
  return time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}
