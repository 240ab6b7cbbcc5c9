export type { ErrorCode } from '@keyward/wire';
export { KeywardError } from '@keyward/wire';
export type {
  AuditEventList,
  AuditEventsFilter,
  AuditEventsQuery,
  AuditExportOptions,
  AuditHashInput,
  AuditPublicKey,
} from './audit-api.js';
export { fromBase64, toBase64 } from './base64.js';
export type { CachedDataKey, DataKeyCacheOptions, DataKeyLease } from './envelope/data-key-cache.js';
export { DataKeyCache } from './envelope/data-key-cache.js';
export type { EnvelopeDecryptOptions, EnvelopeDecryptResult, EnvelopeEncryptOptions, EnvelopeOptions } from './envelope/envelope.js';
export { Envelope } from './envelope/envelope.js';
export { decodeEnvelopeContext, encodeEnvelopeContext } from './envelope/envelope-context.js';
export type { EnvelopeErrorReason } from './envelope/envelope-error.js';
export { EnvelopeError } from './envelope/envelope-error.js';
export type { EnvelopeHeaderFields, ParsedEnvelopeHeader } from './envelope/envelope-format.js';
export { DEFAULT_FRAME_SIZE, MAX_FRAME_SIZE, parseHeader as parseEnvelopeHeader } from './envelope/envelope-format.js';
export { EnvelopeOpener } from './envelope/envelope-opener.js';
export { EnvelopeSealer } from './envelope/envelope-sealer.js';
export type { EnvelopeHeaderInfo, EnvelopeKeyService } from './envelope/envelope-sessions.js';
export type { EventStreamOptions, WebhookDeliveryList, WebhookList } from './events-api.js';
export { isPendingApproval } from './governance-api.js';
export type { DeclareIncidentOptions, IncidentFilter } from './incidents-api.js';
export { isBatchItemError } from './is-batch-item-error.js';
export type { CachedJwk, JwksCacheOptions, JwksChange, LocalVerifyResult, VerifiedJws } from './jwks-cache.js';
export { JwksCache } from './jwks-cache.js';
export type { JwsVerificationCode } from './jws-verification-error.js';
export { JwsVerificationError } from './jws-verification-error.js';
export { KeywardApiError } from './keyward-api-error.js';
export { KeywardClient } from './keyward-client.js';
export type { KeywardClientOptions, KeywardTlsOptions } from './keyward-client-options.js';
export { KeywardConnectionError } from './keyward-connection-error.js';
export type { RetryOptions } from './retry-policy.js';
export type {
  BatchResult,
  CiphertextItem,
  ContextOptions,
  DataKeyOptions,
  DataKeyResult,
  DecryptResult,
  EncryptItem,
  EncryptResult,
  GrantList,
  KeyFilter,
  MacResult,
  PageQuery,
  PrincipalList,
  ReasonOptions,
  ScheduleDeletionOptions,
  SignInput,
  SignResult,
  UsageOptions,
  VerifyInput,
} from './sdk-types.js';
