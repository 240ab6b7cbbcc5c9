import type { AlertSeverity, AlertType, ClassStandards, Environment, KeyClass, Role } from '@keyward/wire';

/** A day of the week as the policy file names it. */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

interface Toggle {
  /** A disabled detector reads nothing and raises nothing; its stored state is kept. */
  enabled: boolean;
  severity: AlertSeverity;
}

/** Thresholds of every anomaly detector (docs/alerts.md). Durations are API durations (`30s`, `5m`, `1h`). */
export interface AlertsPolicy {
  firstUse: Toggle;
  volume: Toggle & {
    /** Width of a counting bucket. */
    bucket: string;
    /** Weight of the newest bucket in the moving average (0 < alpha ≤ 1). */
    alpha: number;
    /** A bucket alerts when its count exceeds factor × the baseline… */
    factor: number;
    /** …and reaches at least this many operations. */
    minCount: number;
    /** Buckets a (principal, key) pair must have been watched before it can alert. */
    warmupBuckets: number;
  };
  invalidCiphertext: Toggle & { window: string; threshold: number };
  compromisedVersionUse: Toggle;
  deactivatedVersionUse: Toggle;
  authFailures: Toggle & { window: string; threshold: number };
  offHours: Toggle & {
    /** An IANA time zone (`Europe/Berlin`) or `UTC`. */
    timezone: string;
    /** Days on which administrative work is expected. */
    days: Weekday[];
    /** `HH:MM-HH:MM` in `timezone`; the end is exclusive; an end before the start spans midnight. */
    hours: string;
  };
}

/** Containment to apply automatically when an alert of one of `alerts` is raised about a key of `class`. */
export interface AutoContainRule {
  class: KeyClass;
  alerts: AlertType[];
}

/** What membership of one identity-provider group gives a person (docs/governance.md, "People: OIDC and second factors"). */
export interface OidcGroupMapping {
  roles: Role[];
  /** Absent: every environment (as for a principal created without `environments`). */
  environments: Environment[] | null;
  teams: string[];
}

/** JWS algorithms an OIDC token may be signed with (asymmetric only: a shared secret would let Keyward mint tokens). */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

/** People signing in through an OpenID Connect identity provider: bearer JWTs verified against its JWKS. */
export interface OidcPolicy {
  /** The `iss` every token must carry, exactly. */
  issuer: string;
  /** The `aud` a token must carry (one of these). */
  audience: string[];
  /** Where the issuer's keys are; null: discovered from `<issuer>/.well-known/openid-configuration`. */
  jwksUri: string | null;
  /** The claim that names the person (`sub` by default). */
  principalClaim: string;
  /** Prepended to the claim's value to make the principal id (`oidc-` by default). */
  principalPrefix: string;
  /** The claim that lists the person's groups. */
  groupsClaim: string;
  /** Group name → roles, environments and teams. A person in no mapped group is refused. */
  groups: Record<string, OidcGroupMapping>;
  algorithms: OidcAlgorithm[];
  /** Allowed clock skew on `exp`, `nbf` and `iat` (a duration). */
  clockTolerance: string;
  /** `amr` values (RFC 8176) that count as a second factor. */
  secondFactorAmr: string[];
}

/** Second factors for admin-level actions (service/second-factor.ts). */
export interface MfaPolicy {
  /** `required`: OIDC people need a second-factor `amr`, local users who enrolled TOTP need a code; `off`: neither is asked. */
  admin: 'required' | 'off';
}

/** Scheduled backups (docs/operations.md, "Scheduled backups"): age-encrypted archives written to a directory by the leader. */
export interface BackupsPolicy {
  /** An absolute directory the server writes `keyward-backup-<time>.age` files to. */
  directory: string;
  /** How often (a duration, at least 1h). */
  interval: string;
  /** How many archives to keep; older ones are deleted after each successful run. */
  retention: number;
  /** The custodians' age recipients, as `keyward backup create --recipient` takes them. */
  recipients: string[];
  /**
   * Full verification after each scheduled backup (docs/operations.md,
   * "Scheduled backups"): the restore drill of `keyward backup verify` with
   * the age identity in `identityFile` (absolute, mode 0600, one of
   * `recipients`); null (the default): the read-back check only.
   */
  verify: { identityFile: string } | null;
}

/** The defaults of a `backups:` section's optional settings. */
export const BACKUPS_DEFAULTS: Pick<BackupsPolicy, 'interval' | 'retention' | 'verify'> = deepFreeze({
  interval: '1d',
  retention: 7,
  verify: null,
});

/** The policy file (docs/alerts.md, "The policy file"; docs/governance.md for `classes:`, `oidc:` and `mfa:`). */
export interface Policy {
  version: 1;
  alerts: AlertsPolicy;
  incidents: { autoContain: AutoContainRule[] };
  /** Quorum approvals (docs/governance.md, "Approvals"): how long a request waits for its approvals. */
  approvals: { ttl: string };
  /** The standard each key class must meet (policy/class-standards.ts enforces it). */
  classes: ClassStandards;
  /**
   * Separation of duties (docs/governance.md, "Reports"): a principal that
   * both manages a key and holds a grant to use it is a compliance finding,
   * unless its id is listed in `exempt`.
   */
  separationOfDuties: { exempt: string[] };
  /** OIDC sign-in; null (the default): bearer JWTs are not accepted. */
  oidc: OidcPolicy | null;
  mfa: MfaPolicy;
  /** Scheduled backups; null (the default): none. */
  backups: BackupsPolicy | null;
}

/** The defaults of an `oidc:` section's optional settings. */
export const OIDC_DEFAULTS: Omit<OidcPolicy, 'issuer' | 'audience' | 'groups'> = deepFreeze({
  jwksUri: null,
  principalClaim: 'sub',
  principalPrefix: 'oidc-',
  groupsClaim: 'groups',
  algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  clockTolerance: '30s',
  secondFactorAmr: ['mfa', 'otp', 'hwk', 'swk'],
});

/** What the policy is when there is no file: the values documented line by line in docs/policy.example.yaml. */
export const DEFAULT_POLICY: Policy = deepFreeze({
  version: 1,
  alerts: {
    firstUse: { enabled: true, severity: 'low' },
    volume: { enabled: true, severity: 'medium', bucket: '1m', alpha: 0.1, factor: 10, minCount: 100, warmupBuckets: 60 },
    invalidCiphertext: { enabled: true, severity: 'high', window: '5m', threshold: 20 },
    compromisedVersionUse: { enabled: true, severity: 'high' },
    deactivatedVersionUse: { enabled: true, severity: 'low' },
    authFailures: { enabled: true, severity: 'medium', window: '5m', threshold: 20 },
    offHours: {
      enabled: false,
      severity: 'medium',
      timezone: 'UTC',
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      hours: '08:00-18:00',
    },
  },
  incidents: { autoContain: [] },
  approvals: { ttl: '24h' },
  classes: {
    critical: {
      rotationPeriod: '90d',
      maxRotationPeriod: '90d',
      maxUsesPerVersion: null,
      algorithms: null,
      protection: 'software',
      deletionWindowDays: 30,
      minDeletionWindowDays: 30,
      exportable: false,
      reviewInterval: '90d',
      unusedKeyThreshold: '90d',
      quorum: { scheduleDeletion: 2, destroyVersion: 2, disable: 0, downgrade: 2, grantChange: 0, export: 2 },
      rotateOnOffboarding: true,
    },
    high: {
      rotationPeriod: '180d',
      maxRotationPeriod: '180d',
      maxUsesPerVersion: null,
      algorithms: null,
      protection: 'software',
      deletionWindowDays: 30,
      minDeletionWindowDays: 14,
      exportable: true,
      reviewInterval: '180d',
      unusedKeyThreshold: '180d',
      quorum: { scheduleDeletion: 0, destroyVersion: 0, disable: 0, downgrade: 0, grantChange: 0, export: 0 },
      rotateOnOffboarding: true,
    },
    standard: {
      rotationPeriod: '365d',
      maxRotationPeriod: '365d',
      maxUsesPerVersion: null,
      algorithms: null,
      protection: 'software',
      deletionWindowDays: 30,
      minDeletionWindowDays: 7,
      exportable: true,
      reviewInterval: '365d',
      unusedKeyThreshold: '365d',
      quorum: { scheduleDeletion: 0, destroyVersion: 0, disable: 0, downgrade: 0, grantChange: 0, export: 0 },
      rotateOnOffboarding: false,
    },
    low: {
      rotationPeriod: null,
      maxRotationPeriod: null,
      maxUsesPerVersion: null,
      algorithms: null,
      protection: 'software',
      deletionWindowDays: 7,
      minDeletionWindowDays: 7,
      exportable: true,
      reviewInterval: null,
      unusedKeyThreshold: null,
      quorum: { scheduleDeletion: 0, destroyVersion: 0, disable: 0, downgrade: 0, grantChange: 0, export: 0 },
      rotateOnOffboarding: false,
    },
  },
  separationOfDuties: { exempt: [] },
  oidc: null,
  mfa: { admin: 'required' },
  backups: null,
});

/** Whether the policy asks for automatic containment of a key of `keyClass` when an alert of `type` is raised about it. */
export function autoContains(policy: Policy, keyClass: KeyClass, type: AlertType): boolean {
  return policy.incidents.autoContain.some((rule) => rule.class === keyClass && rule.alerts.includes(type));
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
