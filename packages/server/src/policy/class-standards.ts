import { type ClassStandard, type KeyClass, KeywardError } from '@keyward/wire';
import { parseDuration } from '../keys/duration.js';
import type { KeyRecord } from '../store/records.js';
import type { Policy } from './policy.js';

/** The fields of a key that its class standard judges. */
export type JudgedKey = Pick<
  KeyRecord,
  'class' | 'algorithm' | 'rotationPeriod' | 'maxUsesPerVersion' | 'exportable' | 'deletionWindowDays' | 'protection'
>;

/** A broken rule: the key field at fault, the rule's name in the policy file, and a message naming both and the class. */
export interface ClassViolation {
  field: string;
  rule: keyof ClassStandard;
  message: string;
}

type Check = (standard: ClassStandard, key: JudgedKey) => ClassViolation | null;

const violation = (key: JudgedKey, field: string, rule: keyof ClassStandard, says: string): ClassViolation => ({
  field,
  rule,
  message: `${field}: class ${key.class} ${says} (classes.${key.class}.${rule})`,
});

/**
 * Every rule of a class standard (docs/governance.md), in the order they are
 * reported. Protection first: it is fixed at creation, so no patch of the
 * key can meet it, only another class can.
 */
const CHECKS: readonly Check[] = [
  (standard, key) =>
    standard.protection === 'hsm' && key.protection !== 'hsm'
      ? violation(key, 'protection', 'protection', 'requires HSM-protected keys (protection: hsm)')
      : null,
  (standard, key) =>
    standard.algorithms === null || standard.algorithms.includes(key.algorithm)
      ? null
      : violation(key, 'algorithm', 'algorithms', `allows only ${standard.algorithms.join(', ')}`),
  (standard, key) =>
    key.exportable && !standard.exportable ? violation(key, 'exportable', 'exportable', 'does not allow exportable keys') : null,
  (standard, key) => {
    const max = standard.maxRotationPeriod;
    if (max === null) return null;
    if (key.rotationPeriod === null) {
      return violation(key, 'rotationPeriod', 'maxRotationPeriod', `requires rotation at least every ${max}; it cannot be off`);
    }
    return parseDuration('rotationPeriod', key.rotationPeriod) > parseDuration('maxRotationPeriod', max)
      ? violation(key, 'rotationPeriod', 'maxRotationPeriod', `allows at most ${max}`)
      : null;
  },
  (standard, key) => {
    const max = standard.maxUsesPerVersion;
    if (max === null) return null;
    if (key.maxUsesPerVersion === null) {
      return violation(key, 'maxUsesPerVersion', 'maxUsesPerVersion', `requires a limit of at most ${max} uses per version`);
    }
    return key.maxUsesPerVersion > max
      ? violation(key, 'maxUsesPerVersion', 'maxUsesPerVersion', `allows at most ${max} uses per version`)
      : null;
  },
  (standard, key) => deletionWindowViolation(standard, key.class, key.deletionWindowDays),
];

/**
 * The first rule of its class's standard that `key` breaks under `policy`,
 * or null when it meets them all. Pure: callers decide what a violation
 * blocks (see {@link assertMeetsClass}).
 *
 * @example
 * classViolation(DEFAULT_POLICY, { ...key, class: 'critical', rotationPeriod: '180d' })?.message
 * // 'rotationPeriod: class critical allows at most 90d (classes.critical.maxRotationPeriod)'
 */
export function classViolation(policy: Policy, key: JudgedKey): ClassViolation | null {
  return classViolations(policy, key)[0] ?? null;
}

/** Every rule of its class's standard that `key` breaks, in the order they are reported. */
export function classViolations(policy: Policy, key: JudgedKey): ClassViolation[] {
  const standard = policy.classes[key.class];
  const found: ClassViolation[] = [];
  for (const check of CHECKS) {
    const violation = check(standard, key);
    if (violation !== null) found.push(violation);
  }
  return found;
}

/**
 * Refuses with `policy_violation` a patch that leaves `key` breaking a rule
 * it touches: every rule when the patch changes the class, else the rules
 * of the fields it sets. A rule the key already broke before (after a policy
 * change) and the patch does not touch does not block it, so reassigning
 * the owner or editing the description of a non-compliant key still works;
 * rotation stays refused until the key complies.
 */
export function assertPatchMeetsClass(policy: Policy, key: JudgedKey, patched: ReadonlySet<string>): void {
  const touched = classViolations(policy, key).find((v) => patched.has('class') || patched.has(v.field));
  if (touched !== undefined) throw new KeywardError('policy_violation', touched.message);
}

/**
 * Refuses with `policy_violation` unless `key` meets its class standard.
 * `then` is appended to the message: what the operator must do next.
 * Called before anything is written, so a refusal changes nothing.
 */
export function assertMeetsClass(policy: Policy, key: JudgedKey, then = ''): void {
  const found = classViolation(policy, key);
  if (found !== null) throw new KeywardError('policy_violation', `${found.message}${then}`);
}

/** Refuses with `policy_violation` a deletion window (`field`, e.g. schedule-deletion's `days`) below the class minimum. */
export function assertDeletionWindow(policy: Policy, keyClass: KeyClass, days: number, field: string): void {
  const found = deletionWindowViolation(policy.classes[keyClass], keyClass, days, field);
  if (found !== null) throw new KeywardError('policy_violation', found.message);
}

/** A deletion window (a key's, or a schedule-deletion request's `days`) shorter than the class minimum. */
export function deletionWindowViolation(
  standard: ClassStandard,
  keyClass: KeyClass,
  days: number,
  field = 'deletionWindowDays',
): ClassViolation | null {
  const min = standard.minDeletionWindowDays;
  if (days >= min) return null;
  return {
    field,
    rule: 'minDeletionWindowDays',
    message: `${field}: class ${keyClass} requires a deletion window of at least ${min} days (classes.${keyClass}.minDeletionWindowDays)`,
  };
}
