export type { ErrorBody, ErrorCode } from './errors.js';
export { ERROR_CODES, HTTP_STATUS, INVALID_CIPHERTEXT_MESSAGE, isErrorCode, KeywardError } from './errors.js';
export type * from './types.js';
export {
  ALGORITHMS,
  ENVIRONMENTS,
  EVENT_TYPES,
  KEY_CLASSES,
  KEY_OPERATIONS,
  KEY_STATES,
  PRINCIPAL_KINDS,
  ROLES,
  VERSION_STATES,
} from './types.js';
