import { KeywardError } from '@keyward/wire';

/** Standard base64 with padding (RFC 4648 §4), the encoding of binary values on the wire. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CHUNK = 0x8000;

/**
 * Encodes bytes as standard, padded base64.
 *
 * @example
 * toBase64(new TextEncoder().encode('hi')); // 'aGk='
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // Chunked so that very large inputs do not overflow the argument limit of fromCharCode.
  for (let offset = 0; offset < bytes.length; offset += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + CHUNK));
  }
  return btoa(binary);
}

/**
 * Decodes standard, padded base64; `undefined` when `text` is not exactly that
 * (no whitespace, no URL-safe alphabet, no missing padding).
 *
 * @example
 * fromBase64('aGk='); // Uint8Array [104, 105]
 */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Decodes a base64 field of a server answer; a malformed one is a server
 * fault (`internal`), never shown with its value.
 */
export function decodeAnswerField(text: unknown, field: string): Uint8Array {
  const bytes = typeof text === 'string' ? fromBase64(text) : undefined;
  if (bytes === undefined) throw new KeywardError('internal', `server answered a malformed '${field}' (expected base64)`);
  return bytes;
}
