export { ERROR_CODES, HTTP_STATUS, INVALID_CIPHERTEXT_MESSAGE, KeywardError, isErrorCode } from './errors.js';
export type { ErrorBody, ErrorCode } from './errors.js';
export { ALGORITHMS, ENVIRONMENTS, KEY_CLASSES, KEY_OPERATIONS, KEY_STATES, PRINCIPAL_KINDS, ROLES, VERSION_STATES } from './types.js';
export type * from './types.js';
