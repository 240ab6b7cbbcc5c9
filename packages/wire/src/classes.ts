/** Class standards: what the policy file's `classes:` section requires of a key of each class (docs/governance.md). */
import type { AlgorithmName, KeyClass } from './types.js';

/** How a class requires its keys' material to be held. Every key is `software` until HSM-backed keys exist. */
export const KEY_PROTECTIONS = ['software', 'hsm'] as const;
export type KeyProtection = (typeof KEY_PROTECTIONS)[number];

/**
 * One class's standard. Durations are API durations (`90d`, `12h`); `null`
 * means "no default" for `rotationPeriod` and "no limit" for the maximums
 * and `algorithms`.
 */
export interface ClassStandard {
  /** Rotation period given to a key created without one; null: rotation by time off. */
  rotationPeriod: string | null;
  /** Longest rotation period a key may have; when set, rotation by time may not be off. */
  maxRotationPeriod: string | null;
  /** Largest use limit per version; when set, it is also the default and a key without a limit breaks it. */
  maxUsesPerVersion: number | null;
  /** Algorithms a key of the class may use; null: every algorithm. */
  algorithms: AlgorithmName[] | null;
  /** The protection the class requires. */
  protection: KeyProtection;
  /** Deletion window given to a key created without one (days). */
  deletionWindowDays: number;
  /** Shortest deletion window a key, or a schedule-deletion request, may have (days). */
  minDeletionWindowDays: number;
  /** Whether a key of the class may be created `exportable: true`. */
  exportable: boolean;
}

/** The standard of every class, as the policy in force says. */
export type ClassStandards = Record<KeyClass, ClassStandard>;
