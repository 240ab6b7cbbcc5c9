import { ALGORITHMS, ENVIRONMENTS, KEY_CLASSES, KEY_OPERATIONS, KEY_STATES, PRINCIPAL_KINDS, ROLES } from '@keyward/wire';
import { NAME_PATTERN } from '../../keys/names.js';

/** Schema fragments shared by the routes; each route file composes its own. */
export const name = { type: 'string', pattern: NAME_PATTERN } as const;
/**
 * Base64 data (plaintexts, messages, signatures). No `maxLength`: the body
 * limits (1 MiB, 16 MiB for batch routes) already bound every string in a body,
 * the service answers 413 past the configured plaintext limit, and Ajv counts a
 * string's length code point by code point (about 2 µs per KiB on every request).
 */
export const base64 = { type: 'string' } as const;
export const duration = { type: 'string', pattern: '^[1-9][0-9]{0,5}[dhms]$' } as const;
export const ownerId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9@._:-]*$' } as const;
export const context = {
  type: 'object',
  maxProperties: 64,
  propertyNames: { minLength: 1, maxLength: 256 },
  additionalProperties: { type: 'string', maxLength: 4096 },
} as const;
export const tags = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { minLength: 1, maxLength: 128 },
  additionalProperties: { type: 'string', maxLength: 256 },
} as const;
export const algorithm = { type: 'string', enum: [...ALGORITHMS] } as const;
export const keyClass = { type: 'string', enum: [...KEY_CLASSES] } as const;
export const environment = { type: 'string', enum: [...ENVIRONMENTS] } as const;
export const keyState = { type: 'string', enum: [...KEY_STATES] } as const;
export const role = { type: 'string', enum: [...ROLES] } as const;
export const principalKind = { type: 'string', enum: [...PRINCIPAL_KINDS] } as const;
export const operation = { type: 'string', enum: [...KEY_OPERATIONS] } as const;
export const reason = { type: 'string', maxLength: 1024 } as const;
/** An RFC 3339 time (API.md: times are RFC 3339 strings). */
export const rfc3339 = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
} as const;

export const keyParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name },
} as const;

export const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
  cursor: { type: 'string', minLength: 1, maxLength: 1024 },
} as const;

export const DEFAULT_PAGE = 100;
