import type { Environment, KeyClass } from '@keyward/wire';

// Per-class defaults and limits (rotation period, use limit, algorithms,
// deletion window, export) are the policy file's `classes:` section:
// policy/policy.ts DEFAULT_POLICY, enforced by policy/class-standards.ts.

export const DEFAULT_CLASS: KeyClass = 'standard';
/** A key created without an environment is treated as production: the most protected choice. */
export const DEFAULT_ENVIRONMENT: Environment = 'prod';
/** The range of any deletion window, whatever the class (API.md: `days` between 7 and 30). */
export const MIN_DELETION_WINDOW_DAYS = 7;
export const MAX_DELETION_WINDOW_DAYS = 30;
