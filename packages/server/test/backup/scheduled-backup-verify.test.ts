import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { compactVerify, importJWK } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/parse-policy.js';
import { FixedPolicy, PolicyFile } from '../../src/policy/policy-file.js';
import { Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

async function records(h: Harness, action: string) {
  await h.keyward.audit.idle();
  return (await h.store.listAudit(0, 1_000_000)).filter((r) => r.action === action);
}

/** The signed claims of `GET /v1/attestations/current`, checked against the published key. */
async function attestedBackups(h: Harness): Promise<Json> {
  const r = await h.call('GET', '/v1/attestations/current');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const key = (await h.call('GET', '/v1/attestations/public-key')).body;
  const { payload } = await compactVerify(r.body.jws as string, await importJWK(key.jwk, 'EdDSA'), { algorithms: ['EdDSA'] });
  return JSON.parse(new TextDecoder().decode(payload)).keyward.backups;
}

/**
 * Scheduled backups with `backups.verify.identityFile`: after each pass the
 * server restores the new archive into a scratch store with that identity
 * and proves it (known answers, audit chain heads), audits `backup.verify`,
 * counts it, and the attestation says what was proved.
 */
describe.each(STORE_KINDS)('scheduled backups verified by a restore drill (%s)', (store) => {
  let dir: string;
  let identityFile: string;
  let recipient: string;
  let custodian: string;
  let scratch: string;
  let savedTmp: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-drill-'));
    const identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
    custodian = await identityToRecipient(await generateIdentity());
    identityFile = join(dir, 'verify.key');
    await writeFile(identityFile, `# verification recipient\n${identity}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The drill's scratch store goes under the system temporary directory: point it at one the test can watch.
  beforeEach(async () => {
    scratch = await mkdtemp(join(dir, 'tmp-'));
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
  });

  afterEach(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  });

  /** What the drills left under the temporary directory (verifyArchive's `keyward-verify-*`; the harness keeps its own store there). */
  const drillScratch = async () => (await readdir(scratch)).filter((name) => name.startsWith('keyward-verify-'));

  const policyFor = (directory: string) =>
    new FixedPolicy(
      parsePolicy(
        `backups:\n  directory: ${directory}\n  interval: 1d\n  retention: 1\n  recipients: [${custodian}, ${recipient}]\n` +
          `  verify:\n    identityFile: ${identityFile}\n`,
      ),
    );

  it('restores each new archive into a scratch store, proves every key version and the chain heads, audits, counts and attests it', async () => {
    const directory = join(dir, `ok-${store}`);
    const h = await Harness.start({ store, policy: policyFor(directory) });
    try {
      await h.createKey('drill-aes', 'aes-256-gcm');
      await h.createKey('drill-ed', 'ed25519');
      const run = await h.keyward.scheduledBackups.runOnce();
      expect(run).toMatchObject({ ran: true, file: 'keyward-backup-20260601T000000Z.age', drill: { ok: true } });
      // The scratch store (database and root key) is gone, and the live store is the one the server still serves.
      expect(await drillScratch()).toEqual([]);
      expect((await h.call('GET', '/v1/keys/drill-aes')).status).toBe(200);

      const [scheduled] = await records(h, 'backup.scheduled');
      const [verified, ...more] = await records(h, 'backup.verify');
      expect(more).toEqual([]);
      expect(verified).toMatchObject({
        actor: 'keyward',
        source: 'scheduler',
        outcome: 'success',
        errorCode: null,
        requestId: scheduled?.requestId,
        details: {
          file: 'keyward-backup-20260601T000000Z.age',
          method: 'restore-drill',
          expected: 'known-answers',
          versionsChecked: 2,
          versionsPassed: 2,
          versionsFailed: 0,
          versionsInToken: 0,
          auditValid: true,
        },
      });
      expect(verified?.details.auditChains).toBeGreaterThan(0);
      // The record holds counts, never the identity.
      const secret = (await readFile(identityFile, 'utf8')).split('\n')[1] as string;
      expect(JSON.stringify(verified)).not.toContain(secret);
      expect(JSON.stringify(verified)).not.toContain('AGE-SECRET-KEY');

      const metrics = await h.keyward.metrics.text();
      expect(metrics).toMatch(/keyward_backup_verify_runs_total\{outcome="success"\} 1/);
      expect(metrics).toMatch(/keyward_backup_verify_runs_total\{outcome="error"\} 0/);
      expect(metrics).toContain(`keyward_backup_last_verified_timestamp_seconds ${Date.parse('2026-06-01T00:00:00.000Z') / 1000}`);

      const backups = await attestedBackups(h);
      expect(backups.last).toMatchObject({
        action: 'backup.scheduled',
        outcome: 'success',
        file: 'keyward-backup-20260601T000000Z.age',
        verification: {
          method: 'restore-drill',
          result: 'passed',
          auditSeq: verified?.seq,
          knownAnswers: { checked: 2, passed: 2, failed: 0, inToken: 0 },
          auditChains: { valid: true, chains: verified?.details.auditChains },
        },
      });

      // The next pass is drilled too, and prunes to `retention` after its drill passed.
      h.clock.advance(86_400_000);
      expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({
        ran: true,
        deleted: ['keyward-backup-20260601T000000Z.age'],
        drill: { ok: true },
      });
      expect(await records(h, 'backup.verify')).toHaveLength(2);
    } finally {
      await h.close();
    }
  });

  it('a version whose stored fingerprint no longer matches its material fails the drill: audited, counted, attested, nothing pruned', async () => {
    const directory = join(dir, `bad-${store}`);
    const h = await Harness.start({ store, policy: policyFor(directory) });
    try {
      await h.createKey('drill-good', 'aes-256-gcm');
      expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true, drill: { ok: true } });
      const key = await h.createKey('drill-bad', 'aes-256-gcm');
      // The live database is damaged: the row's fingerprint is not its material's (the known answer at backup time is).
      const p = (n: number) => (store === 'postgres' ? `$${n}` : '?');
      await h.testStore.raw(`UPDATE key_versions SET fingerprint = ${p(1)} WHERE key_id = ${p(2)} AND version = 1`, [
        `hmac-sha256:${'0'.repeat(32)}`,
        key.id,
      ]);
      h.clock.advance(86_400_000);
      const run = await h.keyward.scheduledBackups.runOnce();
      expect(run).toMatchObject({ ran: true, file: 'keyward-backup-20260602T000000Z.age', drill: { ok: false }, deleted: [] });
      expect(await drillScratch()).toEqual([]);
      // The older archive, which did prove out, is kept although retention is 1.
      expect((await readdir(directory)).sort()).toEqual(['keyward-backup-20260601T000000Z.age', 'keyward-backup-20260602T000000Z.age']);

      const drills = await records(h, 'backup.verify');
      expect(drills).toHaveLength(2);
      expect(drills[1]).toMatchObject({
        outcome: 'error',
        errorCode: 'internal',
        details: {
          file: 'keyward-backup-20260602T000000Z.age',
          versionsChecked: 2,
          versionsPassed: 1,
          versionsFailed: 1,
          auditValid: true,
        },
      });
      const metrics = await h.keyward.metrics.text();
      expect(metrics).toMatch(/keyward_backup_verify_runs_total\{outcome="success"\} 1/);
      expect(metrics).toMatch(/keyward_backup_verify_runs_total\{outcome="error"\} 1/);
      // The gauge still names the last drill that passed.
      expect(metrics).toContain(`keyward_backup_last_verified_timestamp_seconds ${Date.parse('2026-06-01T00:00:00.000Z') / 1000}`);

      const backups = await attestedBackups(h);
      expect(backups.last).toMatchObject({
        file: 'keyward-backup-20260602T000000Z.age',
        outcome: 'success',
        verification: { method: 'restore-drill', result: 'failed', knownAnswers: { checked: 2, passed: 1, failed: 1, inToken: 0 } },
      });
    } finally {
      await h.close();
    }
  });

  it('an identity file loosened after the policy loaded fails the drill closed, without reading it', async () => {
    const directory = join(dir, `loose-${store}`);
    const h = await Harness.start({ store, policy: policyFor(directory) });
    try {
      await h.createKey('drill-loose');
      await chmod(identityFile, 0o640);
      const run = await h.keyward.scheduledBackups.runOnce();
      expect(run).toMatchObject({ ran: true, drill: { ok: false, details: { stage: 'identity' } } });
      const [drill] = await records(h, 'backup.verify');
      expect(drill).toMatchObject({ outcome: 'error', details: { stage: 'identity', method: 'restore-drill' } });
      expect(drill?.details.versionsChecked).toBeUndefined();
      const backups = await attestedBackups(h);
      expect(backups.last.verification).toEqual({
        method: 'restore-drill',
        result: 'failed',
        auditSeq: drill?.seq,
        knownAnswers: null,
        auditChains: null,
      });
    } finally {
      await chmod(identityFile, 0o600);
      await h.close();
    }
  });
});

describe('scheduled backups without backups.verify', () => {
  it('keep today’s read-back check: no drill, no backup.verify record, the attestation says read-back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keyward-nodrill-'));
    const recipient = await identityToRecipient(await generateIdentity());
    const h = await Harness.start({
      policy: new FixedPolicy(parsePolicy(`backups:\n  directory: ${join(dir, 'a')}\n  recipients: [${recipient}]\n`)),
    });
    try {
      expect(await h.keyward.scheduledBackups.runOnce()).toMatchObject({ ran: true, drill: null });
      expect(await records(h, 'backup.verify')).toEqual([]);
      expect((await attestedBackups(h)).last.verification).toEqual({ method: 'read-back', result: 'passed' });
      expect(await h.keyward.metrics.text()).toMatch(/keyward_backup_verify_runs_total\{outcome="success"\} 0/);
    } finally {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('policy validation of backups.verify.identityFile', () => {
  let dir: string;
  let identity: string;
  let recipient: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyward-verify-policy-'));
    identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Opens a policy file naming `identityFile`; resolves to the refusal's message, or null when it loads. */
  async function load(identityFile: string, recipients: string[] = [recipient]): Promise<string | null> {
    const path = join(dir, 'policy.yaml');
    await writeFile(
      path,
      `backups:\n  directory: ${join(dir, 'archives')}\n  recipients: [${recipients.join(', ')}]\n  verify:\n    identityFile: ${identityFile}\n`,
    );
    try {
      const policy = await PolicyFile.open(path);
      expect(policy.current().backups?.verify).toEqual({ identityFile });
      return null;
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toContain(identity);
      return message;
    }
  }

  it('loads with a 0600 age identity file of one of the recipients', async () => {
    const file = join(dir, 'good.key');
    await writeFile(file, `${identity}\n`, { mode: 0o600 });
    expect(await load(file)).toBeNull();
  });

  it('refuses, naming the field, a missing, loose, malformed or foreign identity file, or a relative path', async () => {
    expect(await load(join(dir, 'missing.key'))).toContain(`backups.verify.identityFile: cannot read ${join(dir, 'missing.key')} (ENOENT)`);

    const loose = join(dir, 'loose.key');
    await writeFile(loose, `${identity}\n`, { mode: 0o644 });
    await chmod(loose, 0o644);
    expect(await load(loose)).toContain(`backups.verify.identityFile: ${loose} is readable or writable by group or others (mode 0644)`);

    const notAge = join(dir, 'not-age.key');
    await writeFile(notAge, 'ssh-ed25519 AAAA\n', { mode: 0o600 });
    expect(await load(notAge)).toContain(`backups.verify.identityFile: ${notAge} is not an age identity file`);

    const foreign = join(dir, 'foreign.key');
    await writeFile(foreign, `${await generateIdentity()}\n`, { mode: 0o600 });
    expect(await load(foreign)).toContain(`backups.verify.identityFile: the identity in ${foreign} is not one of backups.recipients`);

    expect(await load('relative/verify.key')).toContain('backups.verify.identityFile: must be an absolute path');

    const directory = join(dir, 'a-directory');
    await mkdir(directory, { mode: 0o700 });
    expect(await load(directory)).toContain(`backups.verify.identityFile: ${directory} is not a regular file`);
  });
});
