import type { AlertEvidenceRecord } from '@keyward/wire';
import { parseDuration } from '../../keys/duration.js';
import type { StoredAuditRecord } from '../../store/records.js';
import { evidenceOf } from '../detector.js';

/** The newest events of one subject inside the window (at most `threshold` of them). */
export interface BurstState {
  /** Their times (ms since the epoch), oldest first. */
  t: number[];
  /** Audit references of the newest few, for the alert's evidence. */
  r: AlertEvidenceRecord[];
  /** Whether the subject is in a burst (the last event found the window full). */
  b: boolean;
}

/** Evidence records a burst keeps per subject. */
const KEPT_REFERENCES = 20;

export interface BurstResult {
  state: BurstState;
  /** Events in the window, counting this one (capped at the threshold: enough to decide). */
  inWindow: number;
  /** True when the window is full with this event. */
  burst: boolean;
  /** True when this event starts a burst (the window was not full at the previous event). */
  started: boolean;
}

/**
 * A sliding-window counter: `threshold` events of one subject within
 * `window` make a burst. It keeps only the newest `threshold` times, which
 * is all the decision needs, so a flood costs bounded memory.
 */
export class SlidingWindow {
  readonly windowMs: number;
  readonly threshold: number;

  constructor(field: string, window: string, threshold: number) {
    this.windowMs = parseDuration(field, window);
    this.threshold = threshold;
  }

  add(previous: BurstState | undefined, record: StoredAuditRecord): BurstResult {
    const now = Date.parse(record.time);
    const from = now - this.windowMs;
    const t = [...(previous?.t ?? []).filter((x) => x > from), now].slice(-this.threshold);
    const r = [...(previous?.r ?? []).filter((x) => Date.parse(x.time) > from), evidenceOf(record)].slice(-KEPT_REFERENCES);
    const burst = t.length >= this.threshold;
    return { state: { t, r, b: burst }, inWindow: t.length, burst, started: burst && previous?.b !== true };
  }
}
