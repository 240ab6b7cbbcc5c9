import { createDecipheriv } from 'node:crypto';
import { EnvelopeError } from './envelope-error.js';
import {
  deriveMessageKeys,
  FINAL_PREFIX_BYTES,
  FRAME_FINAL,
  FRAME_PREFIX_BYTES,
  FRAME_REGULAR,
  FRAME_TAG_BYTES,
  frameAad,
  frameNonce,
  headerDigest,
  type MessageKeys,
  type ParsedEnvelopeHeader,
  verifyHeaderTag,
  wipeMessageKeys,
} from './envelope-format.js';

/**
 * Opens the frames of one message (docs/formats.md §11.4), without I/O. The
 * header tag is checked at construction; `push` returns the plaintext of each
 * frame only after that frame's tag verified; `finish` fails unless the final
 * frame was seen and nothing followed it.
 *
 * Plaintext of earlier frames is released before later frames are checked:
 * treat the output as unverified until `finish` returns.
 *
 * @example
 * const opener = new EnvelopeOpener(header, dataKey);
 * const plaintext = [...opener.push(frames)]; opener.finish();
 */
export class EnvelopeOpener {
  readonly #keys: MessageKeys;
  readonly #digest: Buffer;
  readonly #frameSize: number;
  #buffer: Buffer = Buffer.alloc(0);
  #sequence = 0;
  #done = false;

  constructor(header: ParsedEnvelopeHeader, dataKey: Uint8Array) {
    this.#keys = deriveMessageKeys(dataKey, header.messageId);
    try {
      verifyHeaderTag(header, this.#keys);
    } catch (error) {
      wipeMessageKeys(this.#keys);
      throw error;
    }
    this.#digest = headerDigest(header.body, header.tag);
    this.#frameSize = header.frameSize;
  }

  /** Takes more envelope bytes; returns the verified plaintext of the frames they completed. */
  push(chunk: Uint8Array): Buffer[] {
    if (chunk.length === 0) return [];
    if (this.#done) this.#fail('trailing_data', 'envelope: bytes follow the final frame');
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      const plaintext = this.#nextFrame();
      if (plaintext === undefined) break;
      if (plaintext.length > 0) out.push(plaintext);
      if (this.#done) {
        if (this.#buffer.length > 0) this.#fail('trailing_data', 'envelope: bytes follow the final frame');
        break;
      }
    }
    return out;
  }

  /** Ends the input: `truncated` unless the final frame was read. Wipes the message keys. */
  finish(): void {
    if (!this.#done) this.#fail('truncated', 'envelope: the input ended before the final frame');
    wipeMessageKeys(this.#keys);
  }

  /** Wipes the message keys (after a failure elsewhere). */
  abort(): void {
    this.#done = true;
    wipeMessageKeys(this.#keys);
    this.#buffer = Buffer.alloc(0);
  }

  #nextFrame(): Buffer | undefined {
    const buffer = this.#buffer;
    if (buffer.length < FRAME_PREFIX_BYTES) return undefined;
    const kind = buffer[0];
    if (kind !== FRAME_REGULAR && kind !== FRAME_FINAL) this.#fail('malformed_frame', 'envelope: a frame has an unknown kind byte');
    const sequence = buffer.readUInt32BE(1);
    if (sequence !== this.#sequence)
      this.#fail('frame_out_of_order', `envelope: frame ${sequence} where frame ${this.#sequence} was expected`);
    let prefix = FRAME_PREFIX_BYTES;
    let length = this.#frameSize;
    if (kind === FRAME_FINAL) {
      if (buffer.length < FINAL_PREFIX_BYTES) return undefined;
      prefix = FINAL_PREFIX_BYTES;
      length = buffer.readUInt32BE(5);
      if (length > this.#frameSize) this.#fail('malformed_frame', 'envelope: the final frame is longer than the frame size');
    }
    const total = prefix + length + FRAME_TAG_BYTES;
    if (buffer.length < total) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', this.#keys.frameKey, frameNonce(sequence));
    decipher.setAAD(frameAad(this.#digest, sequence, kind));
    decipher.setAuthTag(buffer.subarray(prefix + length, total));
    let plaintext: Buffer;
    try {
      // Held back until final() has checked the tag: no unverified byte of this frame leaves.
      const body = decipher.update(buffer.subarray(prefix, prefix + length));
      plaintext = Buffer.concat([body, decipher.final()]);
    } catch {
      return this.#fail('frame_tampered', `envelope: frame ${sequence} does not verify`);
    }
    this.#buffer = buffer.subarray(total);
    this.#sequence++;
    if (kind === FRAME_FINAL) this.#done = true;
    return plaintext;
  }

  #fail(reason: 'trailing_data' | 'truncated' | 'malformed_frame' | 'frame_out_of_order' | 'frame_tampered', message: string): never {
    this.abort();
    throw new EnvelopeError(reason, message);
  }
}
