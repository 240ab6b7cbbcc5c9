import { createCipheriv } from 'node:crypto';
import { EnvelopeError } from './envelope-error.js';
import {
  deriveMessageKeys,
  type EnvelopeHeaderFields,
  encodeHeaderBody,
  FINAL_PREFIX_BYTES,
  FRAME_FINAL,
  FRAME_PREFIX_BYTES,
  FRAME_REGULAR,
  frameAad,
  frameNonce,
  headerDigest,
  headerTag,
  MAX_FRAMES,
  type MessageKeys,
  wipeMessageKeys,
} from './envelope-format.js';

/**
 * Seals one message into the framed format (docs/formats.md §11), without
 * I/O: `push` plaintext as it comes, `finish` once; each returns the
 * envelope bytes that are ready. At most one frame of plaintext is held.
 *
 * @example
 * const sealer = new EnvelopeSealer(fields, dataKey);
 * const out = [sealer.header, ...sealer.push(plaintext), sealer.finish()];
 */
export class EnvelopeSealer {
  /** The header (body ‖ tag): the first bytes of the envelope. */
  readonly header: Buffer;
  readonly #keys: MessageKeys;
  readonly #digest: Buffer;
  readonly #frameSize: number;
  readonly #pending: Buffer;
  #filled = 0;
  #sequence = 0;
  #finished = false;

  /** `dataKey` is only read here (the message keys are derived from it); the caller may wipe it afterwards. */
  constructor(fields: EnvelopeHeaderFields, dataKey: Uint8Array) {
    const body = encodeHeaderBody(fields);
    this.#keys = deriveMessageKeys(dataKey, fields.messageId);
    const tag = headerTag(body, this.#keys);
    this.header = Buffer.concat([body, tag]);
    this.#digest = headerDigest(body, tag);
    this.#frameSize = fields.frameSize;
    this.#pending = Buffer.alloc(fields.frameSize);
  }

  /** Takes more plaintext; returns the regular frames it completed. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.#finished) throw new Error('the envelope is already finished');
    const frames: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      // A full frame is sealed as regular only once more plaintext exists: the last frame is always the final one.
      if (this.#filled === this.#frameSize) {
        frames.push(this.#seal(FRAME_REGULAR, this.#pending));
        this.#filled = 0;
      }
      const take = Math.min(chunk.length - offset, this.#frameSize - this.#filled);
      this.#pending.set(chunk.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
    }
    return frames;
  }

  /** Seals the final frame (0 … frame size bytes) and wipes the message keys. */
  finish(): Buffer {
    if (this.#finished) throw new Error('the envelope is already finished');
    try {
      return this.#seal(FRAME_FINAL, this.#pending.subarray(0, this.#filled));
    } finally {
      this.abort();
    }
  }

  /** Wipes the message keys and the buffered plaintext without sealing more. */
  abort(): void {
    this.#finished = true;
    wipeMessageKeys(this.#keys);
    this.#pending.fill(0);
  }

  #seal(kind: number, plaintext: Buffer): Buffer {
    if (this.#sequence >= MAX_FRAMES) {
      this.abort();
      throw new EnvelopeError('too_large', 'the message needs more than 2^32 frames; use a larger frame size');
    }
    const sequence = this.#sequence++;
    const prefixLength = kind === FRAME_FINAL ? FINAL_PREFIX_BYTES : FRAME_PREFIX_BYTES;
    const cipher = createCipheriv('aes-256-gcm', this.#keys.frameKey, frameNonce(sequence));
    cipher.setAAD(frameAad(this.#digest, sequence, kind));
    const prefix = Buffer.alloc(prefixLength);
    prefix[0] = kind;
    prefix.writeUInt32BE(sequence, 1);
    if (kind === FRAME_FINAL) prefix.writeUInt32BE(plaintext.length, 5);
    const body = cipher.update(plaintext);
    const rest = cipher.final();
    return Buffer.concat([prefix, body, rest, cipher.getAuthTag()]);
  }
}
