/** Class standards: what the policy file's `classes:` section requires of a key of each class (docs/governance.md). */
import type { AlgorithmName, KeyClass } from './types.js';

/**
 * Operations a class can hold for quorum approval (docs/governance.md,
 * "Approvals"): scheduling a key's deletion, destroying a version, disabling
 * a key, moving it to a lower class, changing its grants (its access
 * policy), and exporting its material.
 */
export const SENSITIVE_OPERATIONS = ['scheduleDeletion', 'destroyVersion', 'disable', 'downgrade', 'grantChange', 'export'] as const;
export type SensitiveOperation = (typeof SENSITIVE_OPERATIONS)[number];

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
  /** How long a key may go without a recorded review; null: no periodic review. */
  reviewInterval: string | null;
  /** A key not used for longer than this is a report finding; null: never. */
  unusedKeyThreshold: string | null;
  /** Distinct approvals each sensitive operation needs before it runs; 0: none (it runs at once). */
  quorum: Record<SensitiveOperation, number>;
  /** Whether offboarding a principal rotates the exportable keys of the class it could reach. */
  rotateOnOffboarding: boolean;
}

/** The standard of every class, as the policy in force says. */
export type ClassStandards = Record<KeyClass, ClassStandard>;
