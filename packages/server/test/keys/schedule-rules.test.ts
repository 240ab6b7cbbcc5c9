import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dueStep, nextCheckAt } from '../../src/keys/schedule-rules.js';
import type { KeyRecord, VersionRecord } from '../../src/store/records.js';

const day = 86_400_000;
const t0 = new Date('2026-01-01T00:00:00.000Z');
const at = (days: number) => new Date(t0.getTime() + days * day);
const iso = (days: number) => at(days).toISOString();

function key(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id: 'k1',
    namespace: 'default',
    name: 'k',
    algorithm: 'aes-256-gcm',
    usage: 'encrypt',
    state: 'enabled',
    owner: 'o',
    class: 'standard',
    environment: 'prod',
    description: '',
    tags: {},
    rotationPeriod: '30d',
    maxUsesPerVersion: null,
    nextRotationAt: iso(30),
    primaryVersion: 1,
    exportable: false,
    deletionWindowDays: 30,
    deletionDate: null,
    createdAt: iso(0),
    updatedAt: iso(0),
    minDecryptionVersion: 1,
    prepublishPeriod: null,
    originatorPeriod: null,
    nextCheckAt: null,
    lastReviewedAt: null,
    reviewDueAt: null,
    protection: 'software',
    ...overrides,
  };
}

function version(n: number, overrides: Partial<VersionRecord> = {}): VersionRecord {
  return {
    keyId: 'k1',
    version: n,
    state: 'active',
    createdAt: iso(0),
    activatedAt: iso(0),
    deactivatedAt: null,
    compromisedAt: null,
    destroyedAt: null,
    uses: 0,
    fingerprint: 'f',
    publicKey: null,
    material: new Uint8Array(1),
    kekVersion: 1,
    trigger: 'created',
    reserved: 0,
    activateAt: null,
    ...overrides,
  };
}

describe('dueStep', () => {
  it('nothing is due before the rotation date', () => {
    expect(dueStep(key(), [version(1)], at(29))).toBeNull();
  });
  it('rotates at the rotation date', () => {
    expect(dueStep(key(), [version(1)], at(30))).toEqual({ kind: 'rotate' });
  });
  it('a disabled key does not rotate by time', () => {
    expect(dueStep(key({ state: 'disabled' }), [version(1)], at(31))).toBeNull();
  });
  it('prepublishes the next version prepublishPeriod before the rotation, then activates it', () => {
    const k = key({ prepublishPeriod: '7d' });
    expect(dueStep(k, [version(1)], at(22))).toBeNull();
    expect(dueStep(k, [version(1)], at(23))).toEqual({ kind: 'prepublish', activateAt: at(30) });
    const waiting = version(2, { state: 'pre_active', activatedAt: null, activateAt: iso(30) });
    expect(dueStep(k, [version(1), waiting], at(29))).toBeNull();
    expect(dueStep(k, [version(1), waiting], at(30))).toEqual({ kind: 'activate', version: waiting });
  });
  it('destroys a pending key at its deletion date, not before', () => {
    const k = key({ state: 'pending_deletion', deletionDate: iso(40) });
    expect(dueStep(k, [version(1)], at(39))).toBeNull();
    expect(dueStep(k, [version(1)], at(40))).toEqual({ kind: 'destroy-key' });
    expect(dueStep(key({ state: 'destroyed' }), [version(1)], at(400))).toBeNull();
  });
  it('deactivates a non-primary version at the end of its originator-usage period', () => {
    const k = key({ originatorPeriod: '45d', primaryVersion: 2, nextRotationAt: iso(60) });
    const v1 = version(1);
    const v2 = version(2, { activatedAt: iso(30) });
    expect(dueStep(k, [v1, v2], at(44))).toBeNull();
    expect(dueStep(k, [v1, v2], at(45))).toEqual({ kind: 'deactivate', version: v1 });
  });
  it('rotates a primary version whose originator-usage period is over', () => {
    const k = key({ originatorPeriod: '45d', rotationPeriod: null, nextRotationAt: null });
    expect(dueStep(k, [version(1)], at(45))).toEqual({ kind: 'rotate' });
  });
});

describe('nextCheckAt', () => {
  it('is the rotation date, or the prepublication date before it', () => {
    expect(nextCheckAt(key(), [version(1)])).toBe(iso(30));
    expect(nextCheckAt(key({ prepublishPeriod: '7d' }), [version(1)])).toBe(iso(23));
    expect(nextCheckAt(key({ state: 'destroyed' }), [version(1)])).toBeNull();
    expect(nextCheckAt(key({ rotationPeriod: null, nextRotationAt: null }), [version(1)])).toBeNull();
    expect(nextCheckAt(key({ state: 'pending_deletion', deletionDate: iso(40) }), [version(1)])).toBe(iso(40));
    expect(nextCheckAt(key({ originatorPeriod: '10d' }), [version(1)])).toBe(iso(10));
  });

  it('nothing is ever due before it, and something is due at it (property)', () => {
    const arbitraryKey = fc.record({
      state: fc.constantFrom('enabled', 'disabled', 'pending_deletion') as fc.Arbitrary<KeyRecord['state']>,
      rotation: fc.option(fc.integer({ min: 2, max: 90 })),
      prepublish: fc.option(fc.integer({ min: 1, max: 1 })),
      originator: fc.option(fc.integer({ min: 1, max: 120 })),
      created: fc.integer({ min: 0, max: 50 }),
      deletion: fc.integer({ min: 0, max: 60 }),
      waiting: fc.option(fc.integer({ min: 0, max: 60 })),
    });
    fc.assert(
      fc.property(arbitraryKey, (a) => {
        const k = key({
          state: a.state,
          rotationPeriod: a.rotation === null ? null : `${a.rotation}d`,
          nextRotationAt: a.rotation === null ? null : iso(a.created + a.rotation),
          prepublishPeriod: a.rotation !== null && a.prepublish !== null ? `${a.prepublish}d` : null,
          originatorPeriod: a.originator === null ? null : `${a.originator}d`,
          deletionDate: a.state === 'pending_deletion' ? iso(a.deletion) : null,
        });
        const versions = [version(1, { activatedAt: iso(a.created) })];
        if (a.waiting !== null) versions.push(version(2, { state: 'pre_active', activatedAt: null, activateAt: iso(a.waiting) }));
        const next = nextCheckAt(k, versions);
        if (next === null) {
          expect(dueStep(k, versions, at(400))).toBeNull();
          return;
        }
        const t = new Date(next).getTime();
        expect(dueStep(k, versions, new Date(t - 1))).toBeNull();
        expect(dueStep(k, versions, new Date(t))).not.toBeNull();
      }),
      { numRuns: 500 },
    );
  });
});
