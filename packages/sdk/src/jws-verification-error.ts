/** Why a {@link JwksCache} refused a JWS. */
export type JwsVerificationCode = 'malformed' | 'unknown_key' | 'invalid_signature';

/**
 * A JWS did not verify against the cached public keys: it is not a compact
 * JWS with a Keyward `kid` (`malformed`), its `kid` names no version the
 * cache holds even after a refresh (`unknown_key`: never published, or
 * compromised, destroyed or retired), or the signature or `alg` is wrong
 * (`invalid_signature`). The message never quotes the token.
 *
 * @example
 * try {
 *   await cache.verifyJws(token);
 * } catch (error) {
 *   if (error instanceof JwsVerificationError && error.code === 'unknown_key') return reject();
 * }
 */
export class JwsVerificationError extends Error {
  readonly code: JwsVerificationCode;

  constructor(code: JwsVerificationCode, message: string) {
    super(message);
    this.name = 'JwsVerificationError';
    this.code = code;
  }
}
