import { Secret, TOTP } from 'otpauth';

/**
 * TOTP (RFC 6238) as authenticator apps expect it: HMAC-SHA-1, 6 digits,
 * 30-second steps. The arithmetic is otpauth's (constant-time comparison
 * included); this file only fixes the parameters.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** RFC 4226 §4 asks for at least 128 bits; 160 is the SHA-1 block recommendation (R6). */
const SECRET_BYTES = 20;
/** Codes of the previous and next step are accepted too (RFC 6238 §5.2: one step of clock drift). */
const WINDOW = 1;
const CODE = /^[0-9]{6}$/;

/** Associated data binding a wrapped TOTP secret to its principal (a blob moved to another row fails to unwrap). */
export function totpSecretAad(principalId: string): Uint8Array {
  return new TextEncoder().encode(`keyward/totp-secret/v1\0${principalId}`);
}

/** A fresh random secret. */
export function newTotpSecret(): Uint8Array {
  return new Uint8Array(new Secret({ size: SECRET_BYTES }).bytes);
}

function totp(secret: Uint8Array, principalId: string): TOTP {
  return new TOTP({
    issuer: 'Keyward',
    label: principalId,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: new Secret({ buffer: new Uint8Array(secret).buffer }),
  });
}

/** The secret in base32 and the `otpauth://totp/…` URI an authenticator app scans. */
export function totpEnrolment(secret: Uint8Array, principalId: string): { secret: string; uri: string } {
  const generator = totp(secret, principalId);
  return { secret: generator.secret.base32, uri: generator.toString() };
}

/**
 * The time step whose code `code` is, at `now` (± one step), or null when it
 * matches none. The caller refuses a step already used (replay).
 *
 * @example
 * const step = matchTotp(secret, '492039', clock.now());
 */
export function matchTotp(secret: Uint8Array, code: string, now: Date): number | null {
  if (!CODE.test(code)) return null;
  const generator = totp(secret, 'check');
  const timestamp = now.getTime();
  const delta = generator.validate({ token: code, timestamp, window: WINDOW });
  if (delta === null) return null;
  return generator.counter({ timestamp }) + delta;
}
