import { KeywardError } from '@keyward/wire';

/**
 * Why an envelope was refused (docs/formats.md §11.5). Each kind of damage has
 * its own reason, so a caller (or a test) can tell a truncated upload from a
 * tampered frame; none of them carries a byte of plaintext or key.
 */
export type EnvelopeErrorReason =
  /** The input does not start with the envelope magic. */
  | 'not_envelope'
  /** The format version or suite byte is not one this SDK reads. */
  | 'unsupported_version'
  /** A header field is out of range or not canonical. */
  | 'malformed_header'
  /** The header tag does not verify, or Keyward refused the wrapped data key under the header's context. */
  | 'header_tampered'
  /** The header's encryption context is not the one the caller expects. */
  | 'context_mismatch'
  /** A frame's kind byte or length is invalid. */
  | 'malformed_frame'
  /** A frame's sequence number is not the next one (frames reordered, dropped or repeated). */
  | 'frame_out_of_order'
  /** A frame's tag does not verify (edited, or taken from another message). */
  | 'frame_tampered'
  /** The input ended before the final frame. */
  | 'truncated'
  /** Bytes follow the final frame. */
  | 'trailing_data'
  /** The message is longer than one envelope can hold (2³² frames). */
  | 'too_large';

/**
 * An envelope that cannot be opened (code `invalid_ciphertext`), or one that
 * cannot be sealed (`too_large`, code `invalid_request`). Switch on `reason`.
 *
 * @example
 * try { await client.envelope.decrypt(bytes); } catch (e) { if (e instanceof EnvelopeError && e.reason === 'truncated') retry(); }
 */
export class EnvelopeError extends KeywardError {
  readonly reason: EnvelopeErrorReason;

  constructor(reason: EnvelopeErrorReason, message: string) {
    super(reason === 'too_large' ? 'invalid_request' : 'invalid_ciphertext', message);
    this.name = 'EnvelopeError';
    this.reason = reason;
  }
}
