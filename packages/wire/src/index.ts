export type * from './alerts.js';
export { ALERT_SEVERITIES, ALERT_STATES, ALERT_TYPES } from './alerts.js';
export type * from './attestations.js';
export type * from './audit.js';
export type * from './byok.js';
export { EXPORT_WRAPPING_ALGORITHMS, IMPORT_WRAPPING_ALGORITHMS } from './byok.js';
export type * from './classes.js';
export { KEY_PROTECTIONS, SENSITIVE_OPERATIONS } from './classes.js';
export type { ErrorBody, ErrorCode } from './errors.js';
export { ERROR_CODES, HTTP_STATUS, INVALID_CIPHERTEXT_MESSAGE, isErrorCode, KeywardError } from './errors.js';
export type * from './governance.js';
export { APPROVAL_STATES } from './governance.js';
export type * from './incidents.js';
export { INCIDENT_STATES, INCIDENT_STEP_STATES, INCIDENT_STEPS, INCIDENT_TYPES } from './incidents.js';
export type * from './reports.js';
export { FINDING_KINDS, REPORT_FORMATS } from './reports.js';
export type * from './types.js';
export {
  ALGORITHMS,
  ENVIRONMENTS,
  EVENT_TYPES,
  KEY_CLASSES,
  KEY_OPERATIONS,
  KEY_STATES,
  MAX_TLS_IDENTITIES,
  PRINCIPAL_KINDS,
  ROLES,
  TLS_IDENTITY_PATTERN,
  VERSION_STATES,
} from './types.js';
