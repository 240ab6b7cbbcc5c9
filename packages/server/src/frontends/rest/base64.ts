import { KeywardError } from '@keyward/wire';

/**
 * Decodes standard base64 with padding (API.md), strictly: Node's decoder
 * skips junk, so the value must re-encode to exactly itself.
 */
export function decodeBase64(field: string, value: string): Uint8Array {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) throw new KeywardError('invalid_request', `${field}: is not valid base64`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
