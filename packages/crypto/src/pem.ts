import { CryptoError } from './errors.js';

/** Wraps DER in a PEM block (RFC 7468 §2): base64 in 64-character lines. */
export function derToPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Extracts the DER of the single PEM block with the given label (RFC 7468
 * §3, lax parser: any whitespace between base64 characters). Throws
 * `CryptoError('invalid_key')` on anything else.
 */
export function pemToDer(label: string, pem: string): Uint8Array {
  const match = new RegExp(`^\\s*-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----\\s*$`).exec(pem);
  const body = match?.[1]?.replace(/\s+/g, '');
  if (body === undefined || body.length === 0 || body.length % 4 !== 0) throw new CryptoError('invalid_key', 'malformed PEM public key');
  const der = Buffer.from(body, 'base64');
  if (der.toString('base64') !== body) throw new CryptoError('invalid_key', 'malformed PEM public key');
  return new Uint8Array(der.buffer, der.byteOffset, der.byteLength);
}
