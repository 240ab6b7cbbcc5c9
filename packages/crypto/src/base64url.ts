import { CryptoError, type CryptoErrorCode } from './errors.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Encodes bytes as base64url without padding (RFC 4648 §5). */
export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Decodes unpadded base64url strictly: only the RFC 4648 §5 alphabet, no
 * padding, no whitespace, and the canonical encoding only (the unused low
 * bits of the last character must be zero, RFC 4648 §3.5). Node's own decoder
 * silently skips bad characters, so one string could otherwise decode to the
 * same bytes as another.
 */
export function fromBase64urlStrict(text: string, code: CryptoErrorCode, message: string): Uint8Array {
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new CryptoError(code, message);
  const buf = Buffer.from(text, 'base64url');
  if (buf.toString('base64url') !== text) throw new CryptoError(code, message);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
