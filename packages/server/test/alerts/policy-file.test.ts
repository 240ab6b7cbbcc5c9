import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PolicyError, parsePolicy } from '../../src/policy/parse-policy.js';
import { autoContains, DEFAULT_POLICY } from '../../src/policy/policy.js';
import { PolicyFile } from '../../src/policy/policy-file.js';
import { ManualClock } from '../../src/service/clock.js';

const EXAMPLE = new URL('../../../../docs/policy.example.yaml', import.meta.url);

const refused = (text: string): string => {
  try {
    parsePolicy(text);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as Error).message;
  }
  throw new Error('the policy was accepted');
};

describe('parsePolicy', () => {
  it('the documented example file is exactly the defaults', () => {
    expect(parsePolicy(readFileSync(EXAMPLE, 'utf8'))).toEqual(DEFAULT_POLICY);
  });

  it('an empty file, or one with only some keys, takes the defaults for the rest', () => {
    expect(parsePolicy('')).toEqual(DEFAULT_POLICY);
    expect(parsePolicy('# nothing\n')).toEqual(DEFAULT_POLICY);
    const p = parsePolicy('alerts:\n  volume:\n    factor: 4\n  offHours:\n    enabled: true\n    days: [sat]\n');
    expect(p.alerts.volume).toEqual({ ...DEFAULT_POLICY.alerts.volume, factor: 4 });
    expect(p.alerts.offHours).toEqual({ ...DEFAULT_POLICY.alerts.offHours, enabled: true, days: ['sat'] });
    expect(p.alerts.firstUse).toEqual(DEFAULT_POLICY.alerts.firstUse);
    expect(Object.isFrozen(p.alerts.volume)).toBe(true);
  });

  it('parses incidents.autoContain', () => {
    const p = parsePolicy('incidents:\n  autoContain:\n    - class: critical\n      alerts: [invalid_ciphertext_burst, volume_spike]\n');
    expect(p.incidents.autoContain).toEqual([{ class: 'critical', alerts: ['invalid_ciphertext_burst', 'volume_spike'] }]);
    expect(autoContains(p, 'critical', 'volume_spike')).toBe(true);
    expect(autoContains(p, 'critical', 'first_use')).toBe(false);
    expect(autoContains(p, 'standard', 'volume_spike')).toBe(false);
  });

  it('refuses bad files with the field path and line', () => {
    const cases: Array<[string, string]> = [
      ['alerts:\n  volume:\n    factor: 0.5\n', 'alerts.volume.factor: must be >= 1 (line 3)'],
      ['alerts:\n  volume:\n    facter: 5\n', 'alerts.volume.facter: is not a known setting (line 3)'],
      ['alert:\n  volume: {}\n', 'alert: is not a known setting (line 1)'],
      ['alerts:\n  volume:\n    alpha: 0\n', 'alerts.volume.alpha: must be > 0 (line 3)'],
      ['alerts:\n  volume:\n    bucket: 1 minute\n', 'alerts.volume.bucket: must be a duration such as 30s, 5m, 1h or 1d (line 3)'],
      ['alerts:\n  firstUse:\n    enabled: yes\n', 'alerts.firstUse.enabled: must be a boolean (true or false) (line 3)'],
      ['alerts:\n  firstUse:\n    severity: urgent\n', 'alerts.firstUse.severity: must be one of low, medium, high, critical (line 3)'],
      ['alerts:\n  authFailures:\n    threshold: 1\n', 'alerts.authFailures.threshold: must be >= 2 (line 3)'],
      ['alerts:\n  invalidCiphertext:\n    threshold: "20"\n', 'alerts.invalidCiphertext.threshold: must be an integer (line 3)'],
      ['alerts:\n  offHours:\n    days: [mon, funday]\n', 'alerts.offHours.days[1]: must be one of mon, tue'],
      ['alerts:\n  offHours:\n    hours: 9-5\n', 'alerts.offHours.hours: must be HH:MM-HH:MM (line 3)'],
      ['alerts:\n  offHours:\n    hours: "09:00-09:00"\n', 'alerts.offHours.hours: must be HH:MM-HH:MM with different start and end'],
      ['alerts:\n  offHours:\n    timezone: Mars/Olympus\n', "alerts.offHours.timezone: unknown time zone 'Mars/Olympus'"],
      ['version: 2\n', 'version: must be one of 1 (line 1)'],
      ['- a\n- b\n', 'the file: must be a mapping'],
      ['alerts: [1]\n', 'alerts: must be a mapping (line 1)'],
      ['incidents:\n  autoContain:\n    - class: critical\n', 'incidents.autoContain[0].alerts: is required (line 3)'],
      [
        'incidents:\n  autoContain:\n    - class: critical\n      alerts: [meteor]\n',
        'incidents.autoContain[0].alerts[0]: must be one of first_use',
      ],
      [
        'incidents:\n  autoContain:\n    - class: high\n      alerts: [first_use]\n    - class: high\n      alerts: [volume_spike]\n',
        "incidents.autoContain[1].class: class 'high' already has a rule; list all its alert types in one (line 5)",
      ],
      ['alerts:\n  volume:\n    factor: 1\n    factor: 2\n', 'YAML: Map keys must be unique at line 4'],
      ['alerts:\n  volume: [\n', 'YAML: '],
      ['alerts: !!binary aGVsbG8=\n', 'alerts: must be a plain YAML value'],
      ['alerts: !custom x\n', 'YAML: Unresolved tag: !custom'],
    ];
    for (const [text, message] of cases) expect(refused(text), text).toContain(message);
  });

  it('refuses a file over the size limit', () => {
    expect(refused(`# ${'x'.repeat(1024 * 1024)}\n`)).toContain('larger than');
  });
});

describe('parsePolicy: classes', () => {
  it('a partial section overrides only what it names; every other class and rule keeps its default', () => {
    const p = parsePolicy(
      [
        'classes:',
        '  critical:',
        '    rotationPeriod: 30d',
        '    maxRotationPeriod: 60d',
        '    algorithms: [aes-256-gcm, ed25519]',
        '    maxUsesPerVersion: 1000000',
        '  low:',
        '    protection: hsm',
        '    exportable: false',
        '',
      ].join('\n'),
    );
    expect(p.classes.critical).toEqual({
      ...DEFAULT_POLICY.classes.critical,
      rotationPeriod: '30d',
      maxRotationPeriod: '60d',
      algorithms: ['aes-256-gcm', 'ed25519'],
      maxUsesPerVersion: 1_000_000,
    });
    expect(p.classes.low).toEqual({ ...DEFAULT_POLICY.classes.low, protection: 'hsm', exportable: false });
    expect(p.classes.high).toEqual(DEFAULT_POLICY.classes.high);
    expect(p.classes.standard).toEqual(DEFAULT_POLICY.classes.standard);
    expect(p.alerts).toEqual(DEFAULT_POLICY.alerts);
    expect(Object.isFrozen(p.classes.critical.algorithms)).toBe(true);
  });

  it('the shipped defaults are the documented standards', () => {
    const rules = (keyClass: 'critical' | 'high' | 'standard' | 'low') => {
      const c = DEFAULT_POLICY.classes[keyClass];
      return [c.rotationPeriod, c.maxRotationPeriod, c.deletionWindowDays, c.minDeletionWindowDays, c.exportable];
    };
    expect(rules('critical')).toEqual(['90d', '90d', 30, 30, false]);
    expect(rules('high')).toEqual(['180d', '180d', 30, 14, true]);
    expect(rules('standard')).toEqual(['365d', '365d', 30, 7, true]);
    expect(rules('low')).toEqual([null, null, 7, 7, true]);
    for (const c of Object.values(DEFAULT_POLICY.classes)) {
      expect(c).toMatchObject({ maxUsesPerVersion: null, algorithms: null, protection: 'software' });
    }
  });

  it('separationOfDuties.exempt: principal ids, none by default, strictly validated', () => {
    expect(DEFAULT_POLICY.separationOfDuties).toEqual({ exempt: [] });
    expect(parsePolicy('separationOfDuties:\n  exempt: [breakglass, svc-ops]\n').separationOfDuties).toEqual({
      exempt: ['breakglass', 'svc-ops'],
    });
    for (const [text, message] of [
      ['separationOfDuties:\n  exempt: breakglass\n', 'separationOfDuties.exempt: must be a list (line 2)'],
      ['separationOfDuties:\n  exempt: [a, a]\n', 'separationOfDuties.exempt: lists an item twice (line 2)'],
      [
        'separationOfDuties:\n  exempt: [Bad Id]\n',
        "separationOfDuties.exempt[0]: must be a principal id (lowercase letters, digits, '.', '_', '-') (line 2)",
      ],
      ['separationOfDuties:\n  allow: [x]\n', 'separationOfDuties.allow: is not a known setting (line 2)'],
    ]) {
      expect(refused(text as string), text).toBe(message);
    }
  });

  it('null turns a default or a limit off', () => {
    const p = parsePolicy('classes:\n  critical:\n    rotationPeriod: null\n    maxRotationPeriod: null\n    algorithms: null\n');
    expect(p.classes.critical).toMatchObject({ rotationPeriod: null, maxRotationPeriod: null, algorithms: null });
  });

  it('refuses a bad classes section with the field path and line', () => {
    const cases: Array<[string, string]> = [
      ['classes:\n  ultra: {}\n', 'classes.ultra: is not a known setting (line 2)'],
      ['classes:\n  low:\n    rotation: 30d\n', 'classes.low.rotation: is not a known setting (line 3)'],
      ['classes: []\n', 'classes: must be a mapping (line 1)'],
      ['classes:\n  low: null\n', 'classes.low: must be a mapping (line 2)'],
      ['classes:\n  low:\n    rotationPeriod: 5\n', 'classes.low.rotationPeriod: must be a string or null (line 3)'],
      [
        'classes:\n  low:\n    maxRotationPeriod: 1 year\n',
        'classes.low.maxRotationPeriod: must be a duration such as 30s, 5m, 1h or 1d (line 3)',
      ],
      ['classes:\n  high:\n    maxUsesPerVersion: 0\n', 'classes.high.maxUsesPerVersion: must be >= 1 (line 3)'],
      ['classes:\n  high:\n    maxUsesPerVersion: "10"\n', 'classes.high.maxUsesPerVersion: must be an integer or null (line 3)'],
      ['classes:\n  high:\n    algorithms: []\n', 'classes.high.algorithms: must list at least 1 item (line 3)'],
      ['classes:\n  high:\n    algorithms: aes-256-gcm\n', 'classes.high.algorithms: must be a list or null (line 3)'],
      [
        'classes:\n  high:\n    algorithms: [aes-256-gcm, des]\n',
        'classes.high.algorithms[1]: must be one of aes-256-gcm, chacha20-poly1305',
      ],
      ['classes:\n  high:\n    algorithms: [ed25519, ed25519]\n', 'classes.high.algorithms: lists an item twice (line 3)'],
      ['classes:\n  standard:\n    protection: tpm\n', 'classes.standard.protection: must be one of software, hsm (line 3)'],
      ['classes:\n  standard:\n    exportable: no\n', 'classes.standard.exportable: must be a boolean (true or false) (line 3)'],
      ['classes:\n  standard:\n    deletionWindowDays: 6\n', 'classes.standard.deletionWindowDays: must be >= 7 (line 3)'],
      ['classes:\n  standard:\n    minDeletionWindowDays: 31\n', 'classes.standard.minDeletionWindowDays: must be <= 30 (line 3)'],
      // Semantic rules: a class's defaults must meet its own limits.
      [
        'classes:\n  critical:\n    rotationPeriod: 120d\n',
        'classes.critical.rotationPeriod: must be at most classes.critical.maxRotationPeriod (90d) (line 3)',
      ],
      [
        'classes:\n  critical:\n    rotationPeriod: null\n',
        'classes.critical.rotationPeriod: cannot be null (rotation off) while classes.critical.maxRotationPeriod (90d) is set (line 3)',
      ],
      [
        'classes:\n  critical:\n    maxRotationPeriod: 30d\n',
        "classes.critical.maxRotationPeriod: the class's default rotationPeriod (90d) is longer; set classes.critical.rotationPeriod too (line 3)",
      ],
      [
        'classes:\n  low:\n    maxRotationPeriod: 30d\n',
        "classes.low.maxRotationPeriod: the class's default rotationPeriod is null (rotation off); set classes.low.rotationPeriod too (line 3)",
      ],
      [
        'classes:\n  high:\n    minDeletionWindowDays: 20\n    deletionWindowDays: 14\n',
        'classes.high.deletionWindowDays: must be at least classes.high.minDeletionWindowDays (20) (line 4)',
      ],
      [
        'classes:\n  low:\n    minDeletionWindowDays: 20\n',
        "classes.low.minDeletionWindowDays: is above the class's default deletionWindowDays (7); raise classes.low.deletionWindowDays too (line 3)",
      ],
    ];
    for (const [text, message] of cases) expect(refused(text), text).toContain(message);
    // A limit in hours is compared as a duration, not as text.
    expect(parsePolicy('classes:\n  high:\n    maxRotationPeriod: 2160h\n    rotationPeriod: 90d\n').classes.high.rotationPeriod).toBe(
      '90d',
    );
    expect(refused('classes:\n  high:\n    maxRotationPeriod: 2159h\n    rotationPeriod: 90d\n')).toBe(
      'classes.high.rotationPeriod: must be at most classes.high.maxRotationPeriod (2159h) (line 4)',
    );
  });
});

describe('PolicyFile', () => {
  let dir: string;
  let path: string;
  const clock = new ManualClock('2026-06-01T09:00:00.000Z');
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kw-policy-'));
    path = join(dir, 'policy.yaml');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('with no file: the defaults, and no error', async () => {
    const file = await PolicyFile.open(path, { clock });
    expect(file.current()).toBe(DEFAULT_POLICY);
    expect(file.status()).toEqual({
      path,
      source: 'defaults',
      loadedAt: '2026-06-01T09:00:00.000Z',
      digest: null,
      lastError: null,
      lastErrorAt: null,
      classes: DEFAULT_POLICY.classes,
    });
    expect(await file.reload()).toBeNull();
  });

  it('refuses to open an invalid file (nothing to fall back to)', async () => {
    writeFileSync(path, 'alerts:\n  volume:\n    factor: 0\n');
    await expect(PolicyFile.open(path, { clock })).rejects.toThrow(`${path}: alerts.volume.factor: must be >= 1 (line 3)`);
  });

  it('reload picks up new thresholds; an invalid file is refused whole and the previous policy stays', async () => {
    writeFileSync(path, 'alerts:\n  volume:\n    factor: 5\n');
    const file = await PolicyFile.open(path, { clock });
    const seen: number[] = [];
    file.onChange((p) => seen.push(p.alerts.volume.factor));
    expect(file.current().alerts.volume.factor).toBe(5);
    const first = file.status();
    expect(first.source).toBe('file');
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);

    clock.advance(60_000);
    writeFileSync(path, 'alerts:\n  volume:\n    factor: 7\n  invalidCiphertext:\n    threshold: 3\n');
    expect(await file.reload()).toBeNull();
    expect(file.current().alerts.volume.factor).toBe(7);
    expect(file.current().alerts.invalidCiphertext.threshold).toBe(3);
    expect(file.status().loadedAt).toBe('2026-06-01T09:01:00.000Z');
    expect(seen).toEqual([7]);
    const good = file.status();

    // A half-valid file: the good change in it (factor 9) must not apply either.
    clock.advance(60_000);
    writeFileSync(path, 'alerts:\n  volume:\n    factor: 9\n  authFailures:\n    window: soon\n');
    const error = await file.reload();
    expect(error?.message).toBe('alerts.authFailures.window: must be a duration such as 30s, 5m, 1h or 1d (line 5)');
    expect(file.current().alerts.volume.factor).toBe(7);
    expect(file.status()).toEqual({ ...good, lastError: error?.message, lastErrorAt: '2026-06-01T09:02:00.000Z' });
    expect(seen).toEqual([7]);

    // Fixed: in force, error cleared.
    writeFileSync(path, 'alerts:\n  volume:\n    factor: 9\n');
    expect(await file.reload()).toBeNull();
    expect(file.current().alerts.volume.factor).toBe(9);
    expect(file.status().lastError).toBeNull();

    // Deleted: refused (deleting the policy must not relax it), previous kept.
    unlinkSync(path);
    expect((await file.reload())?.message).toContain('the file is missing');
    expect(file.current().alerts.volume.factor).toBe(9);
  });
});
