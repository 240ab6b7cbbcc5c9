import { ALGORITHMS, type ClassStandard, KeywardError } from '@keyward/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/keys/duration.js';
import { assertDeletionWindow, assertMeetsClass, classViolation, type JudgedKey } from '../../src/policy/class-standards.js';
import { PolicyError, parsePolicy } from '../../src/policy/parse-policy.js';
import { DEFAULT_POLICY, type Policy } from '../../src/policy/policy.js';

/** The defaults with one class's standard changed. */
const withClass = (keyClass: JudgedKey['class'], change: Partial<ClassStandard>): Policy => ({
  ...DEFAULT_POLICY,
  classes: { ...DEFAULT_POLICY.classes, [keyClass]: { ...DEFAULT_POLICY.classes[keyClass], ...change } },
});

const criticalKey = (overrides: Partial<JudgedKey> = {}): JudgedKey => ({
  class: 'critical',
  algorithm: 'aes-256-gcm',
  rotationPeriod: '90d',
  maxUsesPerVersion: null,
  exportable: false,
  deletionWindowDays: 30,
  protection: 'software',
  ...overrides,
});

describe('classViolation', () => {
  it('a key with its class defaults meets the shipped standards', () => {
    for (const [keyClass, standard] of Object.entries(DEFAULT_POLICY.classes)) {
      const key: JudgedKey = {
        class: keyClass as JudgedKey['class'],
        algorithm: 'ed25519',
        rotationPeriod: standard.rotationPeriod,
        maxUsesPerVersion: standard.maxUsesPerVersion,
        exportable: false,
        deletionWindowDays: standard.deletionWindowDays,
        protection: standard.protection,
      };
      expect(classViolation(DEFAULT_POLICY, key), keyClass).toBeNull();
    }
  });

  it('names the key field, the class and the rule of each broken rule', () => {
    const cases: Array<[Policy, Partial<JudgedKey>, string, string]> = [
      [
        withClass('critical', { protection: 'hsm' }),
        {},
        'protection',
        'protection: class critical requires HSM-protected keys (protection: hsm) (classes.critical.protection)',
      ],
      [
        withClass('critical', { algorithms: ['ed25519', 'ecdsa-p256'] }),
        {},
        'algorithms',
        'algorithm: class critical allows only ed25519, ecdsa-p256 (classes.critical.algorithms)',
      ],
      [
        DEFAULT_POLICY,
        { exportable: true },
        'exportable',
        'exportable: class critical does not allow exportable keys (classes.critical.exportable)',
      ],
      [
        DEFAULT_POLICY,
        { rotationPeriod: '91d' },
        'maxRotationPeriod',
        'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)',
      ],
      [
        DEFAULT_POLICY,
        { rotationPeriod: null },
        'maxRotationPeriod',
        'rotationPeriod: class critical requires rotation at least every 90d; it cannot be off (classes.critical.maxRotationPeriod)',
      ],
      [
        withClass('critical', { maxUsesPerVersion: 100 }),
        { maxUsesPerVersion: 101 },
        'maxUsesPerVersion',
        'maxUsesPerVersion: class critical allows at most 100 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        withClass('critical', { maxUsesPerVersion: 100 }),
        { maxUsesPerVersion: null },
        'maxUsesPerVersion',
        'maxUsesPerVersion: class critical requires a limit of at most 100 uses per version (classes.critical.maxUsesPerVersion)',
      ],
      [
        DEFAULT_POLICY,
        { deletionWindowDays: 29 },
        'minDeletionWindowDays',
        'deletionWindowDays: class critical requires a deletion window of at least 30 days (classes.critical.minDeletionWindowDays)',
      ],
    ];
    for (const [policy, overrides, rule, message] of cases) {
      expect(classViolation(policy, criticalKey(overrides)), message).toMatchObject({ rule, message });
      expect(() => assertMeetsClass(policy, criticalKey(overrides), '; then this')).toThrow(
        new KeywardError('policy_violation', `${message}; then this`),
      );
    }
  });

  it('compares durations, not text, and accepts limits exactly met', () => {
    const policy = withClass('critical', { maxUsesPerVersion: 100 });
    expect(classViolation(policy, criticalKey({ rotationPeriod: '2160h', maxUsesPerVersion: 100 }))).toBeNull();
    expect(classViolation(policy, criticalKey({ rotationPeriod: '129600m', maxUsesPerVersion: 1 }))).toBeNull();
    expect(classViolation(policy, criticalKey({ rotationPeriod: '129601m', maxUsesPerVersion: 1 }))?.rule).toBe('maxRotationPeriod');
  });

  it('reports protection first: it is fixed at creation, so only another class can meet it', () => {
    const policy = withClass('critical', { protection: 'hsm', algorithms: ['ed25519'] });
    expect(classViolation(policy, criticalKey({ algorithm: 'aes-256-gcm', exportable: true, rotationPeriod: null }))?.rule).toBe(
      'protection',
    );
  });

  it('a class requiring hsm accepts an hsm-protected key and refuses a software one', () => {
    const policy = withClass('critical', { protection: 'hsm' });
    expect(classViolation(policy, criticalKey({ protection: 'hsm' }))).toBeNull();
    expect(classViolation(policy, criticalKey({ protection: 'software' }))).toEqual({
      field: 'protection',
      rule: 'protection',
      message: 'protection: class critical requires HSM-protected keys (protection: hsm) (classes.critical.protection)',
    });
    // A class that does not require hsm takes either.
    expect(classViolation(DEFAULT_POLICY, criticalKey({ protection: 'hsm' }))).toBeNull();
  });

  it('null limits allow anything', () => {
    const key: JudgedKey = {
      class: 'low',
      algorithm: 'rsa-oaep-4096',
      rotationPeriod: null,
      maxUsesPerVersion: null,
      exportable: true,
      deletionWindowDays: 7,
      protection: 'software',
    };
    expect(classViolation(DEFAULT_POLICY, key)).toBeNull();
    expect(classViolation(DEFAULT_POLICY, { ...key, rotationPeriod: '999999d', maxUsesPerVersion: 2 ** 48 })).toBeNull();
  });

  it('assertDeletionWindow names the field it is given', () => {
    expect(() => assertDeletionWindow(DEFAULT_POLICY, 'high', 13, 'days')).toThrow(
      'days: class high requires a deletion window of at least 14 days (classes.high.minDeletionWindowDays)',
    );
    expect(() => assertDeletionWindow(DEFAULT_POLICY, 'high', 14, 'days')).not.toThrow();
  });
});

describe('parse-time checks and enforcement agree', () => {
  const duration = fc.oneof(
    fc.constant(null),
    fc.integer({ min: 1, max: 500 }).map((d) => `${d}d`),
    fc.integer({ min: 1, max: 12_000 }).map((h) => `${h}h`),
  );
  const standard = fc.record(
    {
      rotationPeriod: duration,
      maxRotationPeriod: duration,
      maxUsesPerVersion: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 2 ** 40 })),
      algorithms: fc.oneof(fc.constant(null), fc.subarray([...ALGORITHMS], { minLength: 1 })),
      deletionWindowDays: fc.integer({ min: 7, max: 30 }),
      minDeletionWindowDays: fc.integer({ min: 7, max: 30 }),
      exportable: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('a classes entry is accepted exactly when a key given its defaults meets it', () => {
    fc.assert(
      fc.property(fc.constantFrom('critical', 'high', 'standard', 'low' as const), standard, (keyClass, given) => {
        const merged = { ...DEFAULT_POLICY.classes[keyClass], ...given };
        const consistent =
          (merged.maxRotationPeriod === null ||
            (merged.rotationPeriod !== null &&
              parseDuration('r', merged.rotationPeriod) <= parseDuration('m', merged.maxRotationPeriod))) &&
          merged.deletionWindowDays >= merged.minDeletionWindowDays;
        let policy: Policy;
        try {
          // JSON is YAML 1.2: the generated section is written as a flow mapping.
          policy = parsePolicy(JSON.stringify({ classes: { [keyClass]: given } }));
        } catch (error) {
          expect(error).toBeInstanceOf(PolicyError);
          expect(consistent).toBe(false);
          return;
        }
        expect(consistent).toBe(true);
        const key: JudgedKey = {
          class: keyClass,
          algorithm: merged.algorithms?.[0] ?? 'aes-256-gcm',
          rotationPeriod: merged.rotationPeriod,
          maxUsesPerVersion: merged.maxUsesPerVersion,
          exportable: false,
          deletionWindowDays: merged.deletionWindowDays,
          protection: merged.protection,
        };
        expect(classViolation(policy, key)).toBeNull();
      }),
      { numRuns: 500 },
    );
  });
});
