import { describe, expect, it } from 'vitest';
import { type Detector, type Finding, type KeyLookup, StateMap } from '../../src/alerts/detector.js';
import { AuthFailureDetector } from '../../src/alerts/detectors/auth-failure-burst.js';
import { FirstUseDetector } from '../../src/alerts/detectors/first-use.js';
import { InvalidCiphertextDetector } from '../../src/alerts/detectors/invalid-ciphertext-burst.js';
import { isAdminAction, OffHoursDetector } from '../../src/alerts/detectors/off-hours-admin.js';
import { VersionUseDetector } from '../../src/alerts/detectors/version-use.js';
import { VolumeSpikeDetector } from '../../src/alerts/detectors/volume-spike.js';
import { localTime } from '../../src/alerts/local-time.js';
import { dedupKey, foldFindings, raise, update } from '../../src/alerts/merge-findings.js';
import { DEFAULT_POLICY } from '../../src/policy/policy.js';
import type { StoredAuditRecord, VersionRecord } from '../../src/store/records.js';

/**
 * The detectors as pure functions over audit records: each fires on a
 * sequence built to trigger it and stays silent on ordinary traffic.
 */
let seq = 0;
function rec(over: Partial<StoredAuditRecord> & { time: string }): StoredAuditRecord {
  seq++;
  return {
    seq,
    chain: 'node-a',
    chainSeq: seq,
    prevHash: '',
    hash: '',
    actor: 'svc-app',
    action: 'crypto.decrypt',
    namespace: 'default',
    key: 'payments',
    keyVersion: 1,
    outcome: 'success',
    errorCode: null,
    requestId: `req-${seq}`,
    source: '10.0.0.1',
    details: {},
    ...over,
  };
}

const at = (start: string, ms: number) => new Date(Date.parse(start) + ms).toISOString();
const NO_KEYS: KeyLookup = { versions: () => null };

/** Feeds records through one detector with persistent state (round-tripped through JSON as the store does). */
function feed<T>(detector: Detector<T>, records: StoredAuditRecord[], keys: KeyLookup = NO_KEYS, loaded = new Map<string, string>()) {
  const state = new StateMap<T>(loaded);
  const findings = records.map((r) => detector.observe(r, state, keys)).filter((f): f is Finding => f !== null);
  const stored = new Map(loaded);
  for (const c of state.changes()) {
    if (c.state === null) stored.delete(c.subject);
    else stored.set(c.subject, c.state);
  }
  return { findings, stored };
}

describe('first use', () => {
  const d = new FirstUseDetector(DEFAULT_POLICY.alerts.firstUse);

  it('fires once per (principal, key), remembers across runs, ignores failures and other actions', () => {
    const t = '2026-06-01T10:00:00.000Z';
    const first = feed(d, [
      rec({ time: t }),
      rec({ time: at(t, 1000) }),
      rec({ time: at(t, 2000), key: 'other' }),
      rec({ time: at(t, 3000), actor: 'svc-b', outcome: 'denied', errorCode: 'forbidden' }),
      rec({ time: at(t, 4000), action: 'key.read' }),
    ]);
    expect(first.findings.map((f) => [f.type, f.subject.principal, f.subject.key])).toEqual([
      ['first_use', 'svc-app', 'payments'],
      ['first_use', 'svc-app', 'other'],
    ]);
    expect(first.findings[0]?.records[0]).toMatchObject({ chain: 'node-a', action: 'crypto.decrypt' });
    const again = feed(d, [rec({ time: at(t, 60_000) }), rec({ time: at(t, 61_000), key: 'other' })], NO_KEYS, first.stored);
    expect(again.findings).toEqual([]);
  });
});

describe('volume spike (EWMA)', () => {
  const config = { ...DEFAULT_POLICY.alerts.volume, bucket: '1m', alpha: 0.5, factor: 5, minCount: 20, warmupBuckets: 3 };
  const d = new VolumeSpikeDetector(config);
  const start = '2026-06-01T10:00:00.000Z';
  const minute = (n: number, count: number, who = 'svc-app') =>
    Array.from({ length: count }, (_, i) => rec({ time: at(start, n * 60_000 + i * 10), actor: who }));

  it('stays silent on steady traffic, and during warm-up even when the first buckets are large', () => {
    const steady = feed(d, [...minute(0, 100), ...minute(1, 8), ...minute(2, 10), ...minute(3, 9), ...minute(4, 11), ...minute(5, 10)]);
    expect(steady.findings).toEqual([]);
  });

  it('fires once in a bucket far above the baseline, and again in a later spiking bucket', () => {
    const records = [...minute(0, 10), ...minute(1, 10), ...minute(2, 10), ...minute(3, 60), ...minute(4, 10), ...minute(5, 200)];
    const { findings } = feed(d, records);
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatchObject({
      type: 'volume_spike',
      subject: { principal: 'svc-app', key: 'payments', namespace: 'default' },
      facts: { count: 51, baseline: 10, factor: 5, minCount: 20, bucketsWatched: 3, bucketStart: '2026-06-01T10:03:00.000Z' },
    });
  });

  it('never fires below minCount, whatever the ratio', () => {
    const { findings } = feed(d, [...minute(0, 1), ...minute(1, 1), ...minute(2, 1), ...minute(3, 19)]);
    expect(findings).toEqual([]);
  });

  it('idle buckets do not lower the baseline (a principal that works in bursts is not a spike)', () => {
    const records = [...minute(0, 30), ...minute(1, 30), ...minute(2, 30), ...minute(600, 30), ...minute(1440, 35)];
    expect(feed(d, records).findings).toEqual([]);
  });

  it('keeps its state across runs (the baseline survives a restart)', () => {
    const first = feed(d, [...minute(0, 10), ...minute(1, 10), ...minute(2, 10)]);
    const second = feed(d, minute(3, 60), NO_KEYS, first.stored);
    expect(second.findings).toHaveLength(1);
  });
});

describe('invalid ciphertext burst', () => {
  const d = new InvalidCiphertextDetector({ ...DEFAULT_POLICY.alerts.invalidCiphertext, window: '1m', threshold: 5 });
  const t = '2026-06-01T10:00:00.000Z';
  const bad = (ms: number, key = 'payments') => rec({ time: at(t, ms), key, outcome: 'error', errorCode: 'invalid_ciphertext' });

  it('fires when the threshold is reached within the window, counting the whole window first', () => {
    const { findings } = feed(d, [bad(0), bad(1000), bad(2000), bad(3000), bad(4000), bad(5000)]);
    expect(findings.map((f) => f.occurrences)).toEqual([5, 1]);
    expect(findings[0]).toMatchObject({
      type: 'invalid_ciphertext_burst',
      subject: { namespace: 'default', key: 'payments', principal: null },
      facts: { inWindow: 5, threshold: 5, window: '1m', principals: 'svc-app' },
    });
    expect(findings[0]?.records).toHaveLength(5);
  });

  it('stays silent when the refusals are spread out, or spread over keys', () => {
    expect(feed(d, [bad(0), bad(20_000), bad(40_000), bad(60_000), bad(80_000), bad(100_000)]).findings).toEqual([]);
    expect(
      feed(
        d,
        ['a', 'b', 'c', 'd', 'e'].map((k, i) => bad(i, k)),
      ).findings,
    ).toEqual([]);
  });

  it('a window split across runs still counts', () => {
    const first = feed(d, [bad(0), bad(1000), bad(2000)]);
    expect(feed(d, [bad(3000), bad(4000)], NO_KEYS, first.stored).findings).toHaveLength(1);
  });
});

describe('failed-authentication burst', () => {
  const d = new AuthFailureDetector({ ...DEFAULT_POLICY.alerts.authFailures, window: '1m', threshold: 3 });
  const t = '2026-06-01T10:00:00.000Z';
  const fail = (ms: number, source = '203.0.113.9') =>
    rec({
      time: at(t, ms),
      actor: null,
      action: 'key.list',
      key: null,
      namespace: null,
      outcome: 'denied',
      errorCode: 'unauthenticated',
      source,
    });

  it('fires per source; a forbidden (authenticated) caller is not a failed authentication', () => {
    const { findings } = feed(d, [
      fail(0),
      fail(100, '198.51.100.1'),
      fail(200),
      rec({ time: at(t, 300), outcome: 'denied', errorCode: 'forbidden', source: '203.0.113.9' }),
      fail(400),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ type: 'auth_failure_burst', subject: { source: '203.0.113.9' }, occurrences: 3 });
  });
});

describe('compromised and deactivated version use', () => {
  const d = new VersionUseDetector(DEFAULT_POLICY.alerts.compromisedVersionUse, DEFAULT_POLICY.alerts.deactivatedVersionUse);
  const version = (n: number, over: Partial<VersionRecord>): VersionRecord =>
    ({ keyId: 'k1', version: n, state: 'active', deactivatedAt: null, compromisedAt: null, ...over }) as VersionRecord;
  const keys: KeyLookup = {
    versions: (_ns, key) =>
      key === 'payments'
        ? [
            version(1, { state: 'compromised', deactivatedAt: '2026-06-01T09:00:00.000Z', compromisedAt: '2026-06-01T10:00:00.000Z' }),
            version(2, { state: 'deactivated', deactivatedAt: '2026-06-01T10:00:00.000Z' }),
            version(3, { state: 'active' }),
          ]
        : null,
  };

  it('judges each use by the version state at the time of the record', () => {
    const { findings } = feed(
      d,
      [
        rec({ time: '2026-06-01T08:00:00.000Z', keyVersion: 1 }), // v1 still active then
        rec({ time: '2026-06-01T09:30:00.000Z', keyVersion: 1 }), // v1 deactivated then
        rec({ time: '2026-06-01T10:30:00.000Z', keyVersion: 1, details: { recovery: true } }), // recovery decrypt
        rec({ time: '2026-06-01T10:31:00.000Z', keyVersion: 1, actor: 'svc-b', outcome: 'error', errorCode: 'invalid_state' }),
        rec({ time: '2026-06-01T10:32:00.000Z', keyVersion: 2 }),
        rec({ time: '2026-06-01T10:33:00.000Z', keyVersion: 3 }),
        rec({ time: '2026-06-01T10:34:00.000Z', keyVersion: 2, action: 'crypto.public-key' }),
        rec({ time: '2026-06-01T10:35:00.000Z', keyVersion: 1, key: 'unknown' }),
      ],
      keys,
    );
    expect(findings.map((f) => [f.type, f.subject.version, f.subject.principal, f.facts.recovery])).toEqual([
      ['deactivated_version_use', 1, 'svc-app', false],
      ['compromised_version_use', 1, 'svc-app', true],
      ['compromised_version_use', 1, 'svc-b', false],
      ['deactivated_version_use', 2, 'svc-app', false],
    ]);
    expect(findings[1]?.summary).toContain('recovered data with (decrypt) compromised version 1');
    expect(findings[2]?.summary).toContain("'svc-b' tried to decrypt with compromised version 1");
  });

  it('each type can be disabled on its own', () => {
    const only = new VersionUseDetector(DEFAULT_POLICY.alerts.compromisedVersionUse, {
      ...DEFAULT_POLICY.alerts.deactivatedVersionUse,
      enabled: false,
    });
    const { findings } = feed(
      only,
      [rec({ time: '2026-06-01T10:32:00.000Z', keyVersion: 2 }), rec({ time: '2026-06-01T10:32:00.000Z', keyVersion: 1 })],
      keys,
    );
    expect(findings.map((f) => f.type)).toEqual(['compromised_version_use']);
  });
});

describe('administrative actions outside hours', () => {
  const config = { ...DEFAULT_POLICY.alerts.offHours, enabled: true, timezone: 'Europe/Berlin', hours: '08:00-18:00' };
  const d = new OffHoursDetector(config);

  it('local time follows the zone, with daylight saving', () => {
    expect(localTime(new Date('2026-06-01T06:30:00Z'), 'Europe/Berlin')).toEqual({ weekday: 'mon', minutes: 510, text: 'Mon 08:30' });
    expect(localTime(new Date('2026-01-05T06:30:00Z'), 'Europe/Berlin')).toEqual({ weekday: 'mon', minutes: 450, text: 'Mon 07:30' });
    expect(localTime(new Date('2026-06-01T00:00:00Z'), 'UTC').text).toBe('Mon 00:00');
  });

  it('fires on changes outside hours or days, not on reads, crypto, or Keyward itself', () => {
    const { findings } = feed(d, [
      rec({ time: '2026-06-01T07:00:00.000Z', action: 'key.rotate', actor: 'admin' }), // Mon 09:00 Berlin: in hours
      rec({ time: '2026-06-01T01:00:00.000Z', action: 'key.rotate', actor: 'admin' }), // Mon 03:00: out
      rec({ time: '2026-06-06T10:00:00.000Z', action: 'grant.create', actor: 'alice', outcome: 'denied' }), // Saturday
      rec({ time: '2026-06-01T01:00:00.000Z', action: 'key.read', actor: 'admin' }),
      rec({ time: '2026-06-01T01:00:00.000Z', action: 'crypto.encrypt', actor: 'svc-app' }),
      rec({ time: '2026-06-01T01:00:00.000Z', action: 'key.rotate', actor: 'keyward', source: 'scheduler' }),
      rec({ time: '2026-06-01T01:00:00.000Z', action: 'sys.unseal', actor: null, source: '192.0.2.7' }),
    ]);
    expect(findings.map((f) => [f.subject.principal, f.subject.source, f.facts.localTime])).toEqual([
      ['admin', null, 'Mon 03:00'],
      ['alice', null, 'Sat 12:00'],
      [null, '192.0.2.7', 'Mon 03:00'],
    ]);
  });

  it('hours may span midnight', () => {
    const night = new OffHoursDetector({
      ...config,
      timezone: 'UTC',
      hours: '22:00-06:00',
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    });
    expect(night.inHours('2026-06-01T23:00:00.000Z')).toBe(true);
    expect(night.inHours('2026-06-01T05:59:00.000Z')).toBe(true);
    expect(night.inHours('2026-06-01T06:00:00.000Z')).toBe(false);
    expect(night.inHours('2026-06-01T12:00:00.000Z')).toBe(false);
  });

  it('knows administrative actions', () => {
    const admin = (action: string, actor: string | null = 'admin') =>
      isAdminAction(rec({ time: '2026-06-01T00:00:00.000Z', action, actor }));
    expect(
      [
        'key.create',
        'version.compromise',
        'principal.create',
        'token.revoke',
        'grant.delete',
        'sys.seal',
        'webhook.manage',
        'alert.resolve',
      ].map((a) => admin(a)),
    ).toEqual(Array(8).fill(true));
    expect(
      ['key.read', 'key.list', 'key.jwks', 'key.usage', 'grant.read', 'webhook.read', 'crypto.sign', 'events.read', 'audit.read'].map((a) =>
        admin(a),
      ),
    ).toEqual(Array(9).fill(false));
    expect(admin('key.rotate', 'keyward')).toBe(false);
  });
});

describe('dedup', () => {
  it('folds findings of one subject, and updates an unresolved alert instead of raising another', () => {
    const d = new InvalidCiphertextDetector({ ...DEFAULT_POLICY.alerts.invalidCiphertext, window: '1m', threshold: 2 });
    const t = '2026-06-01T10:00:00.000Z';
    const bad = (ms: number) => rec({ time: at(t, ms), outcome: 'error', errorCode: 'invalid_ciphertext' });
    const { findings } = feed(d, [bad(0), bad(1), bad(2), bad(3)]);
    const folded = foldFindings(findings);
    expect(folded.size).toBe(1);
    const [key, finding] = [...folded][0] as [string, Finding];
    expect(key).toBe(dedupKey('invalid_ciphertext_burst', finding.subject));
    expect(finding.occurrences).toBe(4);
    const now = new Date('2026-06-01T10:05:00.000Z');
    const alert = raise(finding, now);
    expect(alert).toMatchObject({ state: 'open', count: 4, firstSeen: t, lastSeen: at(t, 3) });
    expect(alert.nextSteps.length).toBeGreaterThan(0);
    const later = feed(d, [bad(10), bad(11)]).findings;
    const updated = update(
      { ...alert, state: 'acknowledged' },
      foldFindings(later).get(key) as Finding,
      new Date('2026-06-01T10:06:00.000Z'),
    );
    expect(updated).toMatchObject({ id: alert.id, state: 'acknowledged', count: 6, firstSeen: t, lastSeen: at(t, 11) });
    expect(updated.evidence.records.length).toBeLessThanOrEqual(20);
  });
});
