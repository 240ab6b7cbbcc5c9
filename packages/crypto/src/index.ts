export type { AeadAlgorithm } from './aead.js';
export { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt, randomBytes, unwrapKey, wrapKey } from './aead.js';
export type { AsymmetricEncryptionAlgorithm } from './asymmetric-encrypt.js';
export { asymmetricDecrypt, asymmetricEncrypt, maxAsymmetricPlaintext } from './asymmetric-encrypt.js';
export type { AuditLinesOptions, AuditVerifierOptions, UnhashedAuditRecord, UnsignedAuditCheckpoint } from './audit-chain.js';
export {
  AuditVerifier,
  auditCheckpointBytes,
  auditKeyId,
  auditPublicKey,
  auditRecordBytes,
  auditRecordCanonical,
  auditRecordHash,
  canonicalJson,
  GENESIS_HASH,
  signAuditCheckpoint,
  verifyAuditCheckpoint,
  verifyAuditLines,
} from './audit-chain.js';
export type { CiphertextAlgorithm, CiphertextHeader, ExternalAeadDecrypt, ExternalAeadEncrypt, ParsedCiphertext } from './ciphertext.js';
export { decryptCiphertext, decryptCiphertextWith, encryptToCiphertext, encryptToCiphertextWith, parseCiphertext } from './ciphertext.js';
export { encodeContext } from './encode-context.js';
export type { CryptoErrorCode } from './errors.js';
export { CryptoError } from './errors.js';
export { fingerprint } from './fingerprint.js';
export type { RecipientKey } from './key-transport.js';
export {
  aesKwpUnwrap,
  aesKwpWrap,
  KWP_KEY_BYTES,
  MIN_RECIPIENT_RSA_BITS,
  ML_KEM_KWP_INFO,
  mlKem768Spki,
  mlKemKwpKey,
  parseRecipientKey,
  unwrapImported,
  wrapForImport,
  wrapForRecipient,
} from './key-transport.js';
export type { MacAlgorithm } from './mac.js';
export { mac, verifyMac } from './mac.js';
export { forgetPrivateKey } from './node-keys.js';
export { publicJwk, publicJwkFromPem, publicKeyPem } from './public-key.js';
export type { AlgorithmSpec, GeneratedKey } from './registry.js';
export { getAlgorithm, isAlgorithmName } from './registry.js';
export type { SignInput } from './sign.js';
export { sign, verify, verifyWithPublicKey } from './sign.js';
export { ecdsaCompactToDer } from './signature-schemes.js';
