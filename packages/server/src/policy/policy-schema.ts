import { ALERT_SEVERITIES, ALERT_TYPES, KEY_CLASSES } from '@keyward/wire';
import { WEEKDAYS } from './policy.js';

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
  },
} as const;
