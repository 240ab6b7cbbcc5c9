import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../src/backup/verify.js';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy } from '../../src/policy/policy-file.js';
import { Harness } from '../support/harness.js';
import { POSTGRES_URL } from '../support/stores.js';

const DAY = 86_400_000;

async function scheduledRecords(h: Harness) {
  await h.keyward.audit.idle();
  return (await h.store.listAudit(0, 1_000_000)).filter((r) => r.action === 'backup.scheduled');
}

describe('scheduled backups (injected clock)', () => {
  let dir: string;
  let identity: string;
  let recipient: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-scheduled-'));
    identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('does nothing without a backups: section', async () => {
    const h = await Harness.start();
    try {
      expect(await h.keyward.scheduledBackups.runOnce()).toEqual({ ran: false, reason: 'off' });
      expect(await scheduledRecords(h)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('writes an archive every interval, verifies it, keeps the newest `retention`, audits each run and counts it', async () => {
    const directory = join(dir, 'archives');
    const policy = parsePolicy(`backups:\n  directory: ${directory}\n  interval: 1d\n  retention: 2\n  recipients: [${recipient}]\n`);
    const h = await Harness.start({ policy: new FixedPolicy(policy) });
    try {
      await h.createKey('k1');
      // A temporary file left by a crashed run goes; a file of another name stays.
      await mkdir(directory);
      const stale = 'keyward-backup-20260531T000000Z.age.0b5a6c8e-1f2d-4c3b-9a8e-7d6c5b4a3f21.partial';
      await writeFile(join(directory, stale), 'partial');
      await writeFile(join(directory, 'notes.txt'), 'kept');
      const first = await h.keyward.scheduledBackups.runOnce();
      expect(first).toMatchObject({ ran: true, file: 'keyward-backup-20260601T000000Z.age', deleted: [] });
      expect((await stat(join(directory, 'keyward-backup-20260601T000000Z.age'))).mode & 0o777).toBe(0o600);
      // Not due again until a day has passed.
      h.clock.advance(DAY - 1000);
      expect(await h.keyward.scheduledBackups.runOnce()).toEqual({ ran: false, reason: 'not-due' });
      h.clock.advance(1000);
      await h.createKey('k2');
      expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true, deleted: [] });
      h.clock.advance(DAY);
      const third = await h.keyward.scheduledBackups.runOnce();
      expect(third).toMatchObject({
        ran: true,
        file: 'keyward-backup-20260603T000000Z.age',
        deleted: ['keyward-backup-20260601T000000Z.age'],
      });
      expect((await readdir(directory)).sort()).toEqual([
        'keyward-backup-20260602T000000Z.age',
        'keyward-backup-20260603T000000Z.age',
        'notes.txt',
      ]);

      // What was written is a full backup a custodian's identity restores and proves.
      const report = await verifyArchive({ archive: join(directory, 'keyward-backup-20260603T000000Z.age'), identities: [identity] });
      expect(report.ok).toBe(true);
      expect(report.versions).toMatchObject({ checked: 2, passed: 2, failed: 0 });

      const records = await scheduledRecords(h);
      expect(records).toHaveLength(3);
      expect(records.at(-1)).toMatchObject({
        actor: 'keyward',
        source: 'scheduler',
        outcome: 'success',
        details: { file: 'keyward-backup-20260603T000000Z.age', verified: true, deleted: 1, kept: 2, recipientKind: 'x25519' },
      });
      expect(records.at(-1)?.time).toBe('2026-06-03T00:00:00.000Z');
      const metrics = await h.keyward.metrics.text();
      expect(metrics).toMatch(/keyward_backup_scheduled_runs_total\{outcome="success"\} 3/);
      expect(metrics).toMatch(/keyward_backup_scheduled_runs_total\{outcome="error"\} 0/);
      expect(metrics).toContain(`keyward_backup_last_success_timestamp_seconds ${Date.parse('2026-06-03T00:00:00.000Z') / 1000}`);
    } finally {
      await h.close();
    }
  });

  it('audits a failed run as an error, counts it, and tries again on the next pass', async () => {
    const directory = join(dir, 'not-a-directory');
    await writeFile(directory, 'x');
    const policy = parsePolicy(`backups:\n  directory: ${directory}\n  recipients: [${recipient}]\n`);
    const h = await Harness.start({ policy: new FixedPolicy(policy) });
    try {
      await expect(h.keyward.scheduledBackups.runOnce()).rejects.toMatchObject({ code: 'ENOTDIR' });
      await expect(h.keyward.scheduledBackups.runOnce()).rejects.toMatchObject({ code: 'ENOTDIR' });
      const records = await scheduledRecords(h);
      expect(records).toHaveLength(2);
      expect(records[0]).toMatchObject({
        outcome: 'error',
        errorCode: 'internal',
        details: { file: 'keyward-backup-20260601T000000Z.age' },
      });
      expect(await h.keyward.metrics.text()).toMatch(/keyward_backup_scheduled_runs_total\{outcome="error"\} 2/);
    } finally {
      await h.close();
    }
  });

  it.runIf(POSTGRES_URL)('runs on one node only: a second node on the same PostgreSQL database stands by', async () => {
    const directory = join(dir, 'two-nodes');
    const policy = new FixedPolicy(parsePolicy(`backups:\n  directory: ${directory}\n  recipients: [${recipient}]\n`));
    const a = await Harness.start({ store: 'postgres', policy });
    const b = await Harness.joining(a);
    try {
      expect(await a.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true });
      expect(await b.keyward.scheduledBackups.runOnce()).toEqual({ ran: false, reason: 'standby' });
      expect(await readdir(directory)).toHaveLength(1);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
