/** Failure of a cryptographic operation. Deliberately uninformative: callers map it to one opaque answer. */
export type CryptoErrorCode = 'decrypt_failed' | 'invalid_key' | 'invalid_input' | 'unsupported';

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = 'CryptoError';
    this.code = code;
  }
}
