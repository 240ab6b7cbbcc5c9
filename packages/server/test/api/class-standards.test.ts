import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardError } from '@keyward/wire';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../src/policy/policy.js';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';
import { b64, Harness, type Response } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

type Json = Record<string, any>;

const DAY = 86_400_000;

/**
 * The standards every test starts from: the documented defaults, plus an
 * algorithm list and a use limit for `critical` and HSM protection for
 * `high`. Tests that change the policy append a `standard:` or `low:` entry.
 */
const BASE = `classes:
  critical:
    algorithms: [aes-256-gcm, ed25519]
    maxUsesPerVersion: 1000000
  high:
    protection: hsm
`;

/** Appended to a refused manual rotation (service/key-service.ts). */
const PATCH_FIRST =
  '; the key no longer meets its class standard: patch it into compliance first (its settings, or its class), then rotate';

/**
 * Class standards from the policy file, through the real REST app on each
 * store: defaults applied on create; every rule refused with
 * `policy_violation` naming the class and the rule on create, patch
 * (reclassification included), rotate and scheduled activation; refusals
 * change nothing; a reloaded policy applies to the next request; an invalid
 * `classes:` section is refused whole; what protects a key is never held back.
 */
describe.each(STORE_KINDS)('class standards (%s)', (store) => {
  let h: Harness;
  let dir: string;
  let path: string;
  let policy: PolicyFile;

  const setPolicy = async (text: string) => {
    writeFileSync(path, text);
    expect(await policy.reload()).toBeNull();
  };

  const create = (name: string, extra: Json = {}) =>
    h.call('POST', '/v1/keys', { name, algorithm: 'aes-256-gcm', owner: 'team-gov', ...extra });

  const key = async (name: string): Promise<Json> => {
    const r = await h.call('GET', `/v1/keys/${name}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };

  const keyNames = async (): Promise<string[]> => (await h.call('GET', '/v1/keys?limit=1000')).body.keys.map((k: Json) => k.name);

  /** 400 policy_violation with exactly `message`, audited as that error and never as a success. */
  const expectViolation = async (r: Response, message: string) => {
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'policy_violation', message });
    const records = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.requestId === r.body.error.requestId);
    expect(records.map((a) => [a.outcome, a.errorCode])).toEqual([['error', 'policy_violation']]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kw-classes-'));
    path = join(dir, 'policy.yaml');
    writeFileSync(path, BASE);
    policy = await PolicyFile.open(path, { clock: new ManualClock('2026-06-01T00:00:00.000Z') });
    h = await Harness.start({ store, policy, incidents: { ackTimeoutMs: 300, ackPollMs: 10 } });
  });

  beforeEach(async () => setPolicy(BASE));

  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies the class defaults of the policy in force on create', async () => {
    const critical = await h.createKey('d-critical', 'aes-256-gcm', { class: 'critical' });
    expect(critical).toMatchObject({ rotationPeriod: '90d', maxUsesPerVersion: 1_000_000, deletionWindowDays: 30, exportable: false });
    expect(Date.parse(critical.nextRotationAt) - Date.parse(critical.createdAt)).toBe(90 * DAY);
    const standard = await h.createKey('d-standard');
    expect(standard).toMatchObject({ class: 'standard', rotationPeriod: '365d', maxUsesPerVersion: null, deletionWindowDays: 30 });
    const low = await h.createKey('d-low', 'hmac-sha256', { class: 'low' });
    expect(low).toMatchObject({ rotationPeriod: null, nextRotationAt: null, maxUsesPerVersion: null, deletionWindowDays: 7 });
    // Values within the limits are kept as given.
    const given = await h.createKey('d-given', 'ed25519', {
      class: 'critical',
      rotationPeriod: '2160h',
      maxUsesPerVersion: 10,
      deletionWindowDays: 30,
    });
    expect(given).toMatchObject({ rotationPeriod: '2160h', maxUsesPerVersion: 10 });
  });

  it('create: every rule is refused with policy_violation naming the class and the rule; nothing is written', async () => {
    const before = await keyNames();
    const cases: Array<[Json, string]> = [
      [
        { name: 'c-algorithm', algorithm: 'chacha20-poly1305', class: 'critical' },
        'algorithm: class critical allows only aes-256-gcm, ed25519 (classes.critical.algorithms)',
      ],
      [
        { name: 'c-exportable', class: 'critical', exportable: true },
        'exportable: class critical does not allow exportable keys (classes.critical.exportable)',
      ],
      [
        { name: 'c-rotation', class: 'critical', rotationPeriod: '91d' },
        'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)',
      ],
      [
        { name: 'c-rotation-hours', class: 'critical', rotationPeriod: '2161h' },
        'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)',
      ],
      [
        { name: 'c-rotation-standard', rotationPeriod: '366d' },
        'rotationPeriod: class standard allows at most 365d (classes.standard.maxRotationPeriod)',
      ],
      [
        { name: 'c-uses', class: 'critical', maxUsesPerVersion: 1_000_001 },
        'maxUsesPerVersion: class critical allows at most 1000000 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        { name: 'c-window', class: 'critical', deletionWindowDays: 29 },
        'deletionWindowDays: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
      ],
      [
        // The class makes hsm the default, and this server (file seal) cannot hold hsm keys.
        { name: 'c-hsm', class: 'high' },
        'protection: class high requires hsm (classes.high.protection), but hsm keys need the server on the pkcs11 seal (--seal pkcs11); this server runs the file seal',
      ],
      [
        { name: 'c-hsm-software', class: 'high', protection: 'software' },
        'protection: class high requires HSM-protected keys (protection: hsm) (classes.high.protection)',
      ],
    ];
    for (const [body, message] of cases) {
      await expectViolation(await create(body.name, body), message);
      expect((await h.call('GET', `/v1/keys/${body.name}`)).status).toBe(404);
    }
    expect(await keyNames()).toEqual(before);
    const created = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.action === 'key.create' && a.key?.startsWith('c-'));
    expect(created.every((a) => a.outcome === 'error')).toBe(true);
    expect(created).toHaveLength(cases.length);
  });

  it('patch: the key as it would be after the patch must meet its class; a refused patch changes nothing', async () => {
    await h.createKey('p-critical', 'aes-256-gcm', { class: 'critical' });
    const before = await key('p-critical');
    const cases: Array<[Json, string]> = [
      [{ rotationPeriod: '120d' }, 'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)'],
      [
        { rotationPeriod: null },
        'rotationPeriod: class critical requires rotation at least every 90d; it cannot be off (classes.critical.maxRotationPeriod)',
      ],
      [
        { maxUsesPerVersion: null },
        'maxUsesPerVersion: class critical requires a limit of at most 1000000 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        { maxUsesPerVersion: 2_000_000 },
        'maxUsesPerVersion: class critical allows at most 1000000 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        { deletionWindowDays: 14 },
        'deletionWindowDays: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
      ],
      // The compliant part of a refused patch is not applied either.
      [
        { description: 'changed', tags: { a: 'b' }, rotationPeriod: '91d' },
        'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)',
      ],
    ];
    for (const [body, message] of cases) {
      await expectViolation(await h.call('PATCH', '/v1/keys/p-critical', body), message);
      expect(await key('p-critical')).toEqual(before);
    }
    const fixed = await h.call('PATCH', '/v1/keys/p-critical', { rotationPeriod: '30d', maxUsesPerVersion: 500 });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    expect(fixed.body).toMatchObject({ rotationPeriod: '30d', maxUsesPerVersion: 500 });
  });

  it('patch on a key that already breaks its class: refused only for the rules the patch touches', async () => {
    await h.createKey('p-old', 'aes-256-gcm', { exportable: true });
    await setPolicy(`${BASE}  standard:\n    exportable: false\n    rotationPeriod: 30d\n    maxRotationPeriod: 30d\n`);
    const exportable = 'exportable: class standard does not allow exportable keys (classes.standard.exportable)';
    // Breaks both rules now; exportable is reported first.
    await expectViolation(await h.call('POST', '/v1/keys/p-old/rotate', {}), `${exportable}${PATCH_FIRST}`);
    expect((await h.call('PATCH', '/v1/keys/p-old', { description: 'still in use' })).status).toBe(200);
    // Setting the rotation period to another value the class does not allow is refused, naming that rule.
    await expectViolation(
      await h.call('PATCH', '/v1/keys/p-old', { rotationPeriod: '60d' }),
      'rotationPeriod: class standard allows at most 30d (classes.standard.maxRotationPeriod)',
    );
    expect((await key('p-old')).rotationPeriod).toBe('365d');
    const fixed = await h.call('PATCH', '/v1/keys/p-old', { rotationPeriod: '30d' });
    expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
    // Still exportable, which the class no longer allows: rotation waits for that too.
    await expectViolation(await h.call('POST', '/v1/keys/p-old/rotate', {}), `${exportable}${PATCH_FIRST}`);
  });

  it('patch: reclassifying a key into a stricter class it does not meet is refused, for every rule', async () => {
    await h.createKey('p-chacha', 'chacha20-poly1305');
    await h.createKey('p-exportable', 'aes-256-gcm', { exportable: true });
    await h.createKey('p-plain');
    await h.createKey('p-short', 'aes-256-gcm', { deletionWindowDays: 7 });
    const cases: Array<[string, Json, string]> = [
      ['p-chacha', { class: 'critical' }, 'algorithm: class critical allows only aes-256-gcm, ed25519 (classes.critical.algorithms)'],
      ['p-exportable', { class: 'critical' }, 'exportable: class critical does not allow exportable keys (classes.critical.exportable)'],
      ['p-plain', { class: 'critical' }, 'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)'],
      [
        'p-plain',
        { class: 'critical', rotationPeriod: '90d' },
        'maxUsesPerVersion: class critical requires a limit of at most 1000000 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        'p-short',
        { class: 'critical', rotationPeriod: '90d', maxUsesPerVersion: 10 },
        'deletionWindowDays: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
      ],
      ['p-plain', { class: 'high' }, 'protection: class high requires HSM-protected keys (protection: hsm) (classes.high.protection)'],
    ];
    for (const [name, body, message] of cases) {
      const before = await key(name);
      await expectViolation(await h.call('PATCH', `/v1/keys/${name}`, body), message);
      expect(await key(name)).toEqual(before);
    }
    // Brought into compliance in the same patch: accepted.
    const moved = await h.call('PATCH', '/v1/keys/p-plain', { class: 'critical', rotationPeriod: '90d', maxUsesPerVersion: 1000 });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ class: 'critical', rotationPeriod: '90d', maxUsesPerVersion: 1000 });
    // Into a looser class: always accepted.
    expect((await h.call('PATCH', '/v1/keys/p-chacha', { class: 'low' })).status).toBe(200);
  });

  it('rotate: a key that no longer meets its class after a policy change is refused, for every rule, until patched', async () => {
    const cases: Array<{ name: string; create: Json; standard: string; message: string; fix: Json }> = [
      {
        name: 'r-rotation',
        create: {},
        standard: 'rotationPeriod: 30d\n    maxRotationPeriod: 30d',
        message: 'rotationPeriod: class standard allows at most 30d (classes.standard.maxRotationPeriod)',
        fix: { rotationPeriod: '30d' },
      },
      {
        name: 'r-uses',
        create: {},
        standard: 'maxUsesPerVersion: 5000',
        message: 'maxUsesPerVersion: class standard requires a limit of at most 5000 uses per version (classes.standard.maxUsesPerVersion)',
        fix: { maxUsesPerVersion: 5000 },
      },
      {
        name: 'r-algorithm',
        create: { algorithm: 'chacha20-poly1305' },
        standard: 'algorithms: [aes-256-gcm]',
        message: 'algorithm: class standard allows only aes-256-gcm (classes.standard.algorithms)',
        fix: { class: 'low' },
      },
      {
        name: 'r-exportable',
        create: { exportable: true },
        standard: 'exportable: false',
        message: 'exportable: class standard does not allow exportable keys (classes.standard.exportable)',
        fix: { class: 'low' },
      },
      {
        name: 'r-hsm',
        create: {},
        standard: 'protection: hsm',
        message: 'protection: class standard requires HSM-protected keys (protection: hsm) (classes.standard.protection)',
        fix: { class: 'low' },
      },
      {
        name: 'r-window',
        create: { deletionWindowDays: 7 },
        standard: 'minDeletionWindowDays: 14',
        message:
          'deletionWindowDays: class standard requires a deletion window of at least 14 days (classes.standard.minDeletionWindowDays)',
        fix: { deletionWindowDays: 14 },
      },
    ];
    for (const c of cases) {
      await setPolicy(BASE);
      expect((await create(c.name, c.create)).status).toBe(201);
      await setPolicy(`${BASE}  standard:\n    ${c.standard}\n`);
      const before = await key(c.name);
      // A policy change does not alter the key: it keeps its settings and keeps working.
      expect(before.class).toBe('standard');
      expect((await h.call('POST', `/v1/keys/${c.name}/encrypt`, { plaintext: b64('still works') })).status).toBe(200);
      await expectViolation(await h.call('POST', `/v1/keys/${c.name}/rotate`, { reason: 'quarterly' }), `${c.message}${PATCH_FIRST}`);
      const later = new Date(h.clock.now().getTime() + DAY).toISOString();
      await expectViolation(await h.call('POST', `/v1/keys/${c.name}/rotate`, { activationDate: later }), `${c.message}${PATCH_FIRST}`);
      const after = await key(c.name);
      expect({ ...after, versions: after.versions.map((v: Json) => ({ ...v, uses: 0 })) }).toEqual({
        ...before,
        versions: before.versions.map((v: Json) => ({ ...v, uses: 0 })),
      });
      expect(after.versions).toHaveLength(1);
      // A patch that touches none of the broken rule's fields is applied (an owner handed over, a description):
      // the key stays non-compliant, and rotation stays refused.
      const unrelated = await h.call('PATCH', `/v1/keys/${c.name}`, { owner: 'team-next', description: 'handed over' });
      expect(unrelated.status, JSON.stringify(unrelated.body)).toBe(200);
      await expectViolation(await h.call('POST', `/v1/keys/${c.name}/rotate`, { reason: 'quarterly' }), `${c.message}${PATCH_FIRST}`);

      const fixed = await h.call('PATCH', `/v1/keys/${c.name}`, c.fix);
      expect(fixed.status, JSON.stringify(fixed.body)).toBe(200);
      const rotated = await h.call('POST', `/v1/keys/${c.name}/rotate`, { reason: 'quarterly' });
      expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
      expect(rotated.body.primaryVersion).toBe(2);
    }
  });

  it('a policy change applies to the next request without a restart; GET /v1/sys/policy shows the classes in force', async () => {
    const shown = (await h.call('GET', '/v1/sys/policy')).body;
    expect(shown.classes).toEqual({
      ...DEFAULT_POLICY.classes,
      critical: { ...DEFAULT_POLICY.classes.critical, algorithms: ['aes-256-gcm', 'ed25519'], maxUsesPerVersion: 1_000_000 },
      high: { ...DEFAULT_POLICY.classes.high, protection: 'hsm' },
    });
    await h.createKey('t-before', 'chacha20-poly1305');

    await setPolicy(`${BASE}  standard:\n    rotationPeriod: 30d\n    maxRotationPeriod: 60d\n    algorithms: [aes-256-gcm]\n`);
    await expectViolation(
      await create('t-chacha', { algorithm: 'chacha20-poly1305' }),
      'algorithm: class standard allows only aes-256-gcm (classes.standard.algorithms)',
    );
    expect(await h.createKey('t-after')).toMatchObject({ rotationPeriod: '30d' });
    // The key created before the change is not altered by it.
    expect(await key('t-before')).toMatchObject({ rotationPeriod: '365d', algorithm: 'chacha20-poly1305', state: 'enabled' });
    const reloaded = (await h.call('GET', '/v1/sys/policy')).body;
    expect(reloaded.classes.standard).toEqual({
      ...DEFAULT_POLICY.classes.standard,
      rotationPeriod: '30d',
      maxRotationPeriod: '60d',
      algorithms: ['aes-256-gcm'],
    });
    expect(reloaded.digest).not.toBe(shown.digest);
  });

  it('an invalid classes section is refused whole with the field and the line; the previous policy stays in force', async () => {
    await setPolicy(`${BASE}  standard:\n    rotationPeriod: 30d\n`);
    const good = (await h.call('GET', '/v1/sys/policy')).body;
    const refusals: Array<[string, string]> = [
      [
        // A good change (standard 7d) next to a bad one (low): neither applies.
        `${BASE}  standard:\n    rotationPeriod: 7d\n  low:\n    maxRotationPeriod: 30d\n`,
        "classes.low.maxRotationPeriod: the class's default rotationPeriod is null (rotation off); set classes.low.rotationPeriod too (line 10)",
      ],
      [`${BASE}  standard:\n    rotationPeriod: 7d\n    rotation: 30d\n`, 'classes.standard.rotation: is not a known setting (line 9)'],
      [`${BASE}  standard:\n    algorithms: [aes-256-gcm, rot13]\n`, 'classes.standard.algorithms[1]: must be one of aes-256-gcm'],
      [
        `${BASE}  standard:\n    rotationPeriod: 400d\n`,
        'classes.standard.rotationPeriod: must be at most classes.standard.maxRotationPeriod (365d) (line 8)',
      ],
    ];
    for (const [text, message] of refusals) {
      writeFileSync(path, text);
      const error = await policy.reload();
      expect(error?.message, text).toContain(message);
      const status = (await h.call('GET', '/v1/sys/policy')).body;
      expect(status).toMatchObject({ digest: good.digest, loadedAt: good.loadedAt, lastError: error?.message, classes: good.classes });
      expect(policy.current().classes.standard.rotationPeriod).toBe('30d');
    }
    // The next request still gets the previous standards.
    expect(await h.createKey('i-after-refusal')).toMatchObject({ rotationPeriod: '30d' });
    expect(await h.createKey('i-low', 'aes-256-gcm', { class: 'low' })).toMatchObject({ rotationPeriod: null });
  });

  it('schedule-deletion: a window below the class minimum is refused and the key stays as it was', async () => {
    await h.createKey('s-critical', 'aes-256-gcm', { class: 'critical' });
    await expectViolation(
      await h.call('POST', '/v1/keys/s-critical/schedule-deletion', { days: 14 }),
      'days: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
    );
    await h.createKey('s-standard', 'aes-256-gcm', { deletionWindowDays: 7 });
    await setPolicy(`${BASE}  standard:\n    minDeletionWindowDays: 10\n`);
    // Without days, the key's own window (7) is the one below the minimum: the message names it.
    await expectViolation(
      await h.call('POST', '/v1/keys/s-standard/schedule-deletion', {}),
      'deletionWindowDays: class standard requires a deletion window of at least 10 days (classes.standard.minDeletionWindowDays)',
    );
    expect(await key('s-critical')).toMatchObject({ state: 'enabled', deletionDate: null });
    expect(await key('s-standard')).toMatchObject({ state: 'enabled', deletionDate: null });
    const scheduled = await h.call('POST', '/v1/keys/s-standard/schedule-deletion', { days: 10 });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    expect(scheduled.body.state).toBe('pending_deletion');
  });

  it('the scheduler does not activate a prepublished version of a non-compliant key: a failure, retried until patched', async () => {
    await h.createKey('a-later');
    const at = new Date(h.clock.now().getTime() + 2 * DAY).toISOString();
    const r = await h.call('POST', '/v1/keys/a-later/rotate', { activationDate: at });
    expect(r.body.versions[1]).toMatchObject({ version: 2, state: 'pre_active' });
    await setPolicy(`${BASE}  standard:\n    algorithms: [ed25519]\n`);
    h.clock.advance(2 * DAY);
    const errorsBefore = h.schedulerErrors.length;
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = await h.keyward.scheduler.runOnce();
      expect(run.failures).toBe(1);
      expect(run.steps['version.activate']).toBeUndefined();
    }
    const errors = h.schedulerErrors.slice(errorsBefore);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(KeywardError);
    expect(errors[0]).toMatchObject({
      code: 'policy_violation',
      message:
        "algorithm: class standard allows only ed25519 (classes.standard.algorithms); version 2 of key 'a-later' (namespace 'default') stays pre_active until the key is patched into compliance",
    });
    const held = await key('a-later');
    expect(held.primaryVersion).toBe(1);
    expect(held.versions[1]).toMatchObject({ state: 'pre_active', activatedAt: null });
    const activations = (await h.store.listAudit(0, 1_000_000)).filter((a) => a.key === 'a-later' && a.action === 'version.activate');
    expect(activations).toEqual([]);

    expect((await h.call('PATCH', '/v1/keys/a-later', { class: 'low' })).status).toBe(200);
    const run = await h.keyward.scheduler.runOnce();
    expect(run).toMatchObject({ failures: 0, steps: { 'version.activate': 1 } });
    const active = await key('a-later');
    expect(active.primaryVersion).toBe(2);
    expect(active.versions[1].state).toBe('active');
  });

  it('never held back: rotation by use and by time, compromise of the primary version, the incident playbook', async () => {
    await h.createKey('n-use', 'aes-256-gcm', { maxUsesPerVersion: 2 });
    await h.createKey('n-time', 'aes-256-gcm', { rotationPeriod: '1d' });
    await h.createKey('n-prepublished', 'aes-256-gcm', { rotationPeriod: '2d', prepublishPeriod: '1d' });
    await h.createKey('n-compromise');
    await h.createKey('n-incident');
    await setPolicy(`${BASE}  standard:\n    algorithms: [ed25519]\n`);
    const breaks = 'algorithm: class standard allows only ed25519 (classes.standard.algorithms)';
    await expectViolation(await h.call('POST', '/v1/keys/n-use/rotate', {}), `${breaks}${PATCH_FIRST}`);

    const versions: number[] = [];
    for (let i = 0; i < 3; i++)
      versions.push((await h.call('POST', '/v1/keys/n-use/encrypt', { plaintext: b64(`use ${i}`) })).body.keyVersion);
    expect(versions).toEqual([1, 1, 2]);
    expect((await key('n-use')).versions[1]).toMatchObject({ version: 2, state: 'active', trigger: 'use' });

    h.clock.advance(DAY);
    const run = await h.keyward.scheduler.runOnce();
    expect(run.failures).toBe(0);
    expect((await key('n-time')).versions.map((v: Json) => [v.version, v.trigger])).toEqual([
      [1, 'created'],
      [2, 'time'],
    ]);
    // Rotation by time with prepublication: the version the scheduler prepublished activates too.
    expect((await key('n-prepublished')).versions.map((v: Json) => [v.version, v.state, v.trigger])).toEqual([
      [1, 'active', 'created'],
      [2, 'pre_active', 'time'],
    ]);
    h.clock.advance(DAY);
    expect((await h.keyward.scheduler.runOnce()).failures).toBe(0);
    const prepublished = await key('n-prepublished');
    expect(prepublished.primaryVersion).toBe(2);
    expect(prepublished.versions[1]).toMatchObject({ state: 'active', trigger: 'time' });

    const compromised = await h.call('POST', '/v1/keys/n-compromise/versions/1/compromise', { reason: 'leaked in a log' });
    expect(compromised.status, JSON.stringify(compromised.body)).toBe(200);
    expect(compromised.body.primaryVersion).toBe(2);
    expect(compromised.body.versions[1]).toMatchObject({ state: 'active', trigger: 'event' });

    const incident = await h.call('POST', '/v1/incidents', { type: 'key_compromise', key: 'n-incident', reason: 'found in a dump' });
    expect(incident.status, JSON.stringify(incident.body)).toBe(201);
    expect(incident.body).toMatchObject({ rotatedTo: 2 });
    expect((await key('n-incident')).versions.map((v: Json) => [v.version, v.state])).toEqual([
      [1, 'compromised'],
      [2, 'active'],
    ]);
  });
});
