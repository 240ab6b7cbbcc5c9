import {
  ALERT_SEVERITIES,
  ALERT_TYPES,
  ALGORITHMS,
  ENVIRONMENTS,
  KEY_CLASSES,
  KEY_PROTECTIONS,
  ROLES,
  SENSITIVE_OPERATIONS,
} from '@keyward/wire';
import { MAX_DELETION_WINDOW_DAYS, MIN_DELETION_WINDOW_DAYS } from '../keys/class-defaults.js';
import { PRINCIPAL_ID_PATTERN } from '../keys/names.js';
import { OIDC_ALGORITHMS, WEEKDAYS } from './policy.js';

/**
 * The policy file's JSON schema. Strict: every object rejects unknown keys
 * (a typo must not silently leave a default in force), nothing is coerced,
 * and every key is optional (an absent key keeps its documented default).
 */
const duration = { type: 'string', pattern: '^[1-9][0-9]{0,5}[dhms]$' } as const;
const severity = { type: 'string', enum: [...ALERT_SEVERITIES] } as const;

const section = (properties: Record<string, object>) =>
  ({
    type: 'object',
    additionalProperties: false,
    properties: { enabled: { type: 'boolean' }, severity, ...properties },
  }) as const;

const windowed = section({ window: duration, threshold: { type: 'integer', minimum: 2, maximum: 10_000 } });

/** Deletion windows within the range the API accepts for keys and schedule-deletion. */
const days = { type: 'integer', minimum: MIN_DELETION_WINDOW_DAYS, maximum: MAX_DELETION_WINDOW_DAYS } as const;

/**
 * One class's standard (docs/governance.md). `null` is a value here, not an
 * absence: it turns a default or a limit off (an absent key keeps the
 * documented default). Limits match what the API accepts on a key.
 */
const classStandard = {
  type: 'object',
  additionalProperties: false,
  properties: {
    rotationPeriod: { type: ['string', 'null'], pattern: duration.pattern },
    maxRotationPeriod: { type: ['string', 'null'], pattern: duration.pattern },
    maxUsesPerVersion: { type: ['integer', 'null'], minimum: 1, maximum: 2 ** 48 },
    algorithms: { type: ['array', 'null'], minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ALGORITHMS] } },
    protection: { type: 'string', enum: [...KEY_PROTECTIONS] },
    deletionWindowDays: days,
    minDeletionWindowDays: days,
    exportable: { type: 'boolean' },
    reviewInterval: { type: ['string', 'null'], pattern: duration.pattern },
    unusedKeyThreshold: { type: ['string', 'null'], pattern: duration.pattern },
    quorum: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(SENSITIVE_OPERATIONS.map((op) => [op, { type: 'integer', minimum: 0, maximum: 9 }])),
    },
    rotateOnOffboarding: { type: 'boolean' },
  },
} as const;

const text = { type: 'string', minLength: 1, maxLength: 256 } as const;
const claim = { type: 'string', pattern: '^[A-Za-z0-9_:./-]{1,64}$' } as const;

/** What one identity-provider group gives (docs/governance.md, "People: OIDC and second factors"). */
const groupMapping = {
  type: 'object',
  additionalProperties: false,
  required: ['roles'],
  properties: {
    roles: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    environments: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ENVIRONMENTS] } },
    teams: { type: 'array', maxItems: 64, uniqueItems: true, items: { type: 'string', pattern: PRINCIPAL_ID_PATTERN } },
  },
} as const;

/** The `oidc:` section: absent or null means bearer JWTs are not accepted. */
const oidc = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['issuer', 'audience', 'groups'],
  properties: {
    issuer: { type: 'string', pattern: '^https?://[^\\s#?]+$', maxLength: 1024 },
    audience: { type: ['string', 'array'], minLength: 1, maxLength: 256, minItems: 1, maxItems: 16, items: text },
    jwksUri: { type: ['string', 'null'], pattern: '^https?://\\S+$', maxLength: 2048 },
    principalClaim: claim,
    principalPrefix: { type: 'string', pattern: '^([a-z0-9][a-z0-9._-]{0,31})?$' },
    groupsClaim: claim,
    groups: { type: 'object', minProperties: 1, maxProperties: 256, additionalProperties: groupMapping },
    algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...OIDC_ALGORITHMS] } },
    clockTolerance: { type: 'string', pattern: '^[0-9]{1,4}[ms]$' },
    secondFactorAmr: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
    },
  },
} as const;

/** The `backups:` section: absent or null means no scheduled backups. Recipients are checked further by parseRecipients. */
const backups = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['directory', 'recipients'],
  properties: {
    directory: { type: 'string', pattern: '^/', minLength: 2, maxLength: 4096 },
    interval: duration,
    retention: { type: 'integer', minimum: 1, maximum: 1000 },
    recipients: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    // The identity file is checked further when the policy file is loaded (backup/verify-identity.ts).
    verify: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['identityFile'],
      properties: { identityFile: { type: 'string', pattern: '^/', minLength: 2, maxLength: 4096 } },
    },
  },
} as const;

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    version: { type: 'integer', enum: [1] },
    alerts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        firstUse: section({}),
        volume: section({
          bucket: duration,
          alpha: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
          factor: { type: 'number', minimum: 1, maximum: 1_000_000 },
          minCount: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
          warmupBuckets: { type: 'integer', minimum: 1, maximum: 100_000 },
        }),
        invalidCiphertext: windowed,
        compromisedVersionUse: section({}),
        deactivatedVersionUse: section({}),
        authFailures: windowed,
        offHours: section({
          timezone: { type: 'string', minLength: 1, maxLength: 64 },
          days: { type: 'array', uniqueItems: true, maxItems: 7, items: { type: 'string', enum: [...WEEKDAYS] } },
          hours: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$' },
        }),
      },
    },
    incidents: {
      type: 'object',
      additionalProperties: false,
      properties: {
        autoContain: {
          type: 'array',
          maxItems: KEY_CLASSES.length,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['class', 'alerts'],
            properties: {
              class: { type: 'string', enum: [...KEY_CLASSES] },
              alerts: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ALERT_TYPES] } },
            },
          },
        },
      },
    },
    approvals: { type: 'object', additionalProperties: false, properties: { ttl: duration } },
    classes: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(KEY_CLASSES.map((keyClass) => [keyClass, classStandard])),
    },
    separationOfDuties: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // Principal ids, as POST /v1/principals accepts them.
        exempt: { type: 'array', uniqueItems: true, maxItems: 1000, items: { type: 'string', pattern: PRINCIPAL_ID_PATTERN } },
      },
    },
    oidc,
    mfa: {
      type: 'object',
      additionalProperties: false,
      properties: { admin: { type: 'string', enum: ['required', 'off'] } },
    },
    backups,
  },
} as const;
