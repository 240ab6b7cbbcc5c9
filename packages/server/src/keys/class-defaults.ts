import type { Environment, KeyClass } from '@keyward/wire';

export interface ClassDefaults {
  rotationPeriod: string | null;
  deletionWindowDays: number;
  minDeletionWindowDays: number;
}

/**
 * Defaults applied when a key is created without the field. The governance
 * issue turns these into a policy file; until then they are the shipped
 * standards, documented in docs/keys.md.
 */
export const CLASS_DEFAULTS: Readonly<Record<KeyClass, Readonly<ClassDefaults>>> = Object.freeze({
  critical: { rotationPeriod: '90d', deletionWindowDays: 30, minDeletionWindowDays: 30 },
  high: { rotationPeriod: '180d', deletionWindowDays: 30, minDeletionWindowDays: 14 },
  standard: { rotationPeriod: '365d', deletionWindowDays: 30, minDeletionWindowDays: 7 },
  low: { rotationPeriod: null, deletionWindowDays: 7, minDeletionWindowDays: 7 },
});

export const DEFAULT_CLASS: KeyClass = 'standard';
/** A key created without an environment is treated as production: the most protected choice. */
export const DEFAULT_ENVIRONMENT: Environment = 'prod';
export const MIN_DELETION_WINDOW_DAYS = 7;
export const MAX_DELETION_WINDOW_DAYS = 30;
