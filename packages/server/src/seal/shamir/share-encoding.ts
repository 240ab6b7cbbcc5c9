import { KeywardError } from '@keyward/wire';
import { ROOT_KEY_BYTES } from '../root-key.js';
import { zero } from '../zero.js';

/**
 * Text form of one Shamir share: `kws1.` followed by the unpadded base64url
 * (RFC 4648 §5) of the share bytes as shamir-secret-sharing produces them —
 * 32 bytes of y values, then the 1-byte x coordinate (1…255). 49 characters
 * in all. No checksum: a mistyped share either fails to decode or is caught
 * by the key check when the threshold is reached.
 *
 * `kws1` reads "Keyward share, format 1"; `.` is outside the base64url
 * alphabet, so the prefix can never run into the body.
 */
export const SHARE_PREFIX = 'kws1.';

/** Bytes in a decoded share: one y per root-key byte, plus x. */
export const SHARE_BYTES = ROOT_KEY_BYTES + 1;

/** 44: 33 bytes encode to whole base64 quanta, with no padding and no spare bits. */
const BODY_CHARS = (SHARE_BYTES / 3) * 4;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Bound on what is examined at all, whitespace included. */
const MAX_INPUT_CHARS = 256;

/** Encodes share bytes; the caller zeroes `share` afterwards if it wants to. */
export function encodeShare(share: Uint8Array): string {
  return SHARE_PREFIX + Buffer.from(share.buffer, share.byteOffset, share.byteLength).toString('base64url');
}

/**
 * Decodes a share string into a fresh plain `Uint8Array` (the Shamir library
 * requires exactly that type). Surrounding whitespace is ignored, since shares
 * are pasted by people. Throws `KeywardError('invalid_request')` with a message
 * starting `share: ` that describes the defect, never the share.
 */
export function decodeShare(input: unknown): Uint8Array {
  if (typeof input !== 'string') throw invalidShare('must be a string');
  if (input.length > MAX_INPUT_CHARS) throw invalidShare(`must be at most ${MAX_INPUT_CHARS} characters`);
  const text = input.trim();
  if (!text.startsWith(SHARE_PREFIX)) throw invalidShare(`must start with '${SHARE_PREFIX}'`);
  const body = text.slice(SHARE_PREFIX.length);
  if (body.length !== BODY_CHARS) throw invalidShare(`must have ${BODY_CHARS} characters after '${SHARE_PREFIX}'`);
  if (!BASE64URL.test(body)) throw invalidShare('must be unpadded base64url after the prefix');
  // 33 bytes are exactly 44 base64url characters with no leftover bits, so every such body is canonical.
  const decoded = Buffer.from(body, 'base64url');
  const share = new Uint8Array(decoded);
  zero(decoded);
  if (share[SHARE_BYTES - 1] === 0) {
    zero(share);
    throw invalidShare('has an invalid x coordinate');
  }
  return share;
}

/** The x coordinate of a decoded share (its last byte). */
export function shareX(share: Uint8Array): number {
  return share[share.length - 1] ?? 0;
}

function invalidShare(reason: string): KeywardError {
  return new KeywardError('invalid_request', `share: ${reason}`);
}
