import { parseDuration } from '../../keys/duration.js';
import type { AlertsPolicy } from '../../policy/policy.js';
import type { StoredAuditRecord } from '../../store/records.js';
import { type Detector, evidenceOf, type Finding, pairSubject, type StateMap } from '../detector.js';
import { isUse } from './first-use.js';

/** Per (principal, key): the open bucket, and the moving average over closed active buckets. */
export interface VolumeState {
  /** Start of the open bucket (ms since the epoch). */
  b: number;
  /** Uses counted in it so far. */
  c: number;
  /** Exponentially weighted moving average of closed buckets' counts; null before the first bucket closes. */
  e: number | null;
  /** Closed buckets behind the average (the warm-up counter). */
  n: number;
  /** Whether the open bucket has alerted already (once per bucket). */
  a: boolean;
}

const DAY_MS = 86_400_000;

/**
 * `volume_spike`: a principal's uses of a key in one bucket (default one
 * minute) far above its own baseline: an exponentially weighted moving
 * average (EWMA) of its earlier buckets.
 *
 * Only buckets with at least one use count toward the baseline, so the
 * baseline is "how much this principal does in a minute in which it works
 * at all": idle nights do not drag it to zero and make every morning a
 * spike, and a nightly batch job that always runs hot stays quiet. A bucket
 * alerts (once) as soon as its count exceeds `factor` × baseline and is at
 * least `minCount`, and only after `warmupBuckets` buckets have been
 * watched, so a new principal does not alert on its first bucket.
 */
export class VolumeSpikeDetector implements Detector<VolumeState> {
  readonly name = 'volume_spike';
  readonly retainMs = 30 * DAY_MS;
  readonly #config: AlertsPolicy['volume'];
  readonly #bucketMs: number;

  constructor(config: AlertsPolicy['volume']) {
    this.#config = config;
    this.#bucketMs = parseDuration('alerts.volume.bucket', config.bucket);
  }

  subjects(r: StoredAuditRecord): string[] {
    return isUse(r) ? [pairSubject(r.actor, r.namespace, r.key)] : [];
  }

  observe(r: StoredAuditRecord, state: StateMap<VolumeState>): Finding | null {
    if (!isUse(r)) return null;
    const subject = pairSubject(r.actor, r.namespace, r.key);
    const time = Date.parse(r.time);
    const bucket = time - (time % this.#bucketMs);
    const { alpha, factor, minCount, warmupBuckets } = this.#config;
    let s = state.get(subject) ?? { b: bucket, c: 0, e: null, n: 0, a: false };
    if (bucket > s.b) {
      // The open bucket closes: fold it into the baseline (records of an earlier bucket arriving late join the open one).
      const e = s.e === null ? s.c : alpha * s.c + (1 - alpha) * s.e;
      s = { b: bucket, c: 0, e, n: s.n + 1, a: false };
    }
    s = { ...s, c: s.c + 1 };
    let finding: Finding | null = null;
    const baseline = s.e;
    if (!s.a && baseline !== null && s.n >= warmupBuckets && s.c >= minCount && s.c > factor * baseline) {
      s.a = true;
      const bucketStart = new Date(s.b).toISOString();
      finding = {
        type: 'volume_spike',
        severity: this.#config.severity,
        subject: { namespace: r.namespace, key: r.key, version: null, principal: r.actor, source: null },
        summary: `'${r.actor}' used key '${r.key}' ${s.c} times in the ${this.#config.bucket} from ${bucketStart}, over ${factor}× its baseline of ${round(baseline)}`,
        facts: {
          bucketStart,
          bucket: this.#config.bucket,
          count: s.c,
          baseline: round(baseline),
          factor,
          minCount,
          bucketsWatched: s.n,
        },
        records: [evidenceOf(r)],
        occurrences: 1,
        firstSeen: r.time,
        lastSeen: r.time,
      };
    }
    state.set(subject, s);
    return finding;
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;
