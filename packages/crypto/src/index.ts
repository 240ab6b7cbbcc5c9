export type { AeadAlgorithm } from './aead.js';
export { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt, randomBytes, unwrapKey, wrapKey } from './aead.js';
export type { CryptoErrorCode } from './errors.js';
export { CryptoError } from './errors.js';
