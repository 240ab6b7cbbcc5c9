import { KeywardError } from '@keyward/wire';
import { KeywardApiError } from '../keyward-api-error.js';
import type { DataKeyOptions, DataKeyResult, DecryptResult } from '../sdk-types.js';
import type { DataKeyLease } from './data-key-cache.js';
import { encodeEnvelopeContext } from './envelope-context.js';
import { EnvelopeError } from './envelope-error.js';
import { DATA_KEY_BYTES, type ParsedEnvelopeHeader, parseHeader } from './envelope-format.js';
import { EnvelopeOpener } from './envelope-opener.js';
import type { EnvelopeSealer } from './envelope-sealer.js';

/** The two calls envelope encryption makes to Keyward; a `KeywardClient` is one. */
export interface EnvelopeKeyService {
  dataKey(key: string, options?: DataKeyOptions): Promise<DataKeyResult>;
  decrypt(key: string, ciphertext: string, options?: { context?: Record<string, string> }): Promise<DecryptResult>;
}

/** What the header of a decrypted envelope said, once it verified. */
export interface EnvelopeHeaderInfo {
  keyName: string;
  context: Record<string, string>;
  /** The key version the data key was wrapped under (Keyward named it when unwrapping). */
  keyVersion: number;
  frameSize: number;
}

/**
 * One message being sealed: the sealer (started lazily, since it needs a
 * data key from Keyward) and the byte count of its data key.
 */
export class SealSession {
  readonly #start: () => Promise<{ sealer: EnvelopeSealer; lease: DataKeyLease }>;
  #started: Promise<{ sealer: EnvelopeSealer; lease: DataKeyLease }> | undefined;
  #sealer: EnvelopeSealer | undefined;

  constructor(start: () => Promise<{ sealer: EnvelopeSealer; lease: DataKeyLease }>) {
    this.#start = start;
  }

  /** Envelope bytes for `chunk`: the header first, then the frames it completed. */
  async push(chunk: Uint8Array): Promise<Buffer[]> {
    const out = await this.#begin();
    const { sealer, lease } = await this.#ready();
    lease.addBytes(chunk.length);
    out.push(...sealer.push(chunk));
    return out;
  }

  /** The remaining envelope bytes: the header if nothing was pushed, and the final frame. */
  async finish(): Promise<Buffer[]> {
    const out = await this.#begin();
    const { sealer } = await this.#ready();
    out.push(sealer.finish());
    return out;
  }

  /** Wipes the message keys and buffered plaintext. */
  abort(): void {
    this.#sealer?.abort();
  }

  async #begin(): Promise<Buffer[]> {
    if (this.#started !== undefined) return [];
    this.#started = this.#start();
    const { sealer } = await this.#started;
    this.#sealer = sealer;
    return [sealer.header];
  }

  #ready(): Promise<{ sealer: EnvelopeSealer; lease: DataKeyLease }> {
    if (this.#started === undefined) throw new Error('not started');
    return this.#started;
  }
}

/**
 * One message being opened: buffers the header, asks Keyward to unwrap its
 * data key under the header's context (which checks that context), verifies
 * the header tag, then opens frames.
 */
export class OpenSession {
  readonly #service: EnvelopeKeyService;
  readonly #expected: Buffer | undefined;
  #head: Buffer = Buffer.alloc(0);
  #opener: EnvelopeOpener | undefined;
  #info: EnvelopeHeaderInfo | undefined;
  readonly #onHeader: ((info: EnvelopeHeaderInfo) => void) | undefined;

  constructor(
    service: EnvelopeKeyService,
    expectedContext?: Readonly<Record<string, string>>,
    onHeader?: (info: EnvelopeHeaderInfo) => void,
  ) {
    this.#service = service;
    this.#onHeader = onHeader;
    this.#expected = expectedContext === undefined ? undefined : encodeEnvelopeContext(expectedContext);
  }

  /** The verified header, once the first frames could be read. */
  get info(): EnvelopeHeaderInfo | undefined {
    return this.#info;
  }

  /** Verified plaintext of the frames `chunk` completed. */
  async push(chunk: Uint8Array): Promise<Buffer[]> {
    if (this.#opener !== undefined) return this.#opener.push(chunk);
    this.#head = Buffer.concat([this.#head, chunk]);
    const header = parseHeader(this.#head);
    if (header === undefined) return [];
    const rest = this.#head.subarray(header.length);
    this.#head = Buffer.alloc(0);
    if (this.#expected !== undefined && !this.#expected.equals(encodeEnvelopeContext(header.context))) {
      throw new EnvelopeError('context_mismatch', 'envelope: the encryption context is not the expected one');
    }
    const { dataKey, keyVersion } = await this.#unwrap(header);
    try {
      this.#opener = new EnvelopeOpener(header, dataKey);
    } finally {
      dataKey.fill(0);
    }
    this.#info = { keyName: header.keyName, context: { ...header.context }, keyVersion, frameSize: header.frameSize };
    this.#onHeader?.({ ...this.#info, context: { ...this.#info.context } });
    return this.#opener.push(rest);
  }

  /** `truncated` unless the whole envelope, final frame included, was read. */
  async finish(): Promise<Buffer[]> {
    if (this.#opener === undefined) {
      parseHeader(this.#head); // an input that is not an envelope at all says so, not "truncated"
      throw new EnvelopeError('truncated', 'envelope: the input ended inside the header');
    }
    this.#opener.finish();
    return [];
  }

  abort(): void {
    this.#opener?.abort();
    this.#head = Buffer.alloc(0);
  }

  async #unwrap(header: ParsedEnvelopeHeader): Promise<{ dataKey: Uint8Array; keyVersion: number }> {
    let answer: DecryptResult;
    try {
      answer = await this.#service.decrypt(header.keyName, header.wrappedKey, { context: { ...header.context } });
    } catch (error) {
      // Keyward names a wrapped key it cannot open under this context invalid_ciphertext: the header was edited.
      if (error instanceof KeywardApiError && error.code === 'invalid_ciphertext') {
        throw new EnvelopeError('header_tampered', 'envelope header: Keyward refused the wrapped data key under this context');
      }
      throw error;
    }
    if (answer.plaintext.length !== DATA_KEY_BYTES) {
      answer.plaintext.fill(0);
      throw new EnvelopeError('header_tampered', 'envelope header: the wrapped value is not a 32-byte data key');
    }
    return { dataKey: answer.plaintext, keyVersion: answer.keyVersion };
  }
}

/** Fetches a 32-byte data key bound to `context`; the plaintext must come back. */
export async function fetchDataKey(
  service: EnvelopeKeyService,
  key: string,
  context: Readonly<Record<string, string>>,
): Promise<{ plaintext: Buffer; wrappedKey: string; keyVersion: number }> {
  const answer = await service.dataKey(key, { bytes: DATA_KEY_BYTES, context: { ...context }, includePlaintext: true });
  if (answer.plaintext?.length !== DATA_KEY_BYTES) {
    answer.plaintext?.fill(0);
    throw new KeywardError('internal', 'the server answered a data key without a 32-byte plaintext');
  }
  return {
    plaintext: Buffer.from(answer.plaintext.buffer, answer.plaintext.byteOffset, answer.plaintext.length),
    wrappedKey: answer.ciphertext,
    keyVersion: answer.keyVersion,
  };
}
