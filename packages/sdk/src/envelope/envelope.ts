import { randomBytes as osRandomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { DataKeyCache, type DataKeyCacheOptions, type DataKeyLease } from './data-key-cache.js';
import { encodeEnvelopeContext } from './envelope-context.js';
import { checkSealOptions, DEFAULT_FRAME_SIZE, MESSAGE_ID_BYTES } from './envelope-format.js';
import { EnvelopeSealer } from './envelope-sealer.js';
import { type EnvelopeHeaderInfo, type EnvelopeKeyService, fetchDataKey, OpenSession, SealSession } from './envelope-sessions.js';

/** What a message is sealed under. */
export interface EnvelopeEncryptOptions {
  /** Name of the Keyward key that wraps the data key (an `aes-256-gcm` or `chacha20-poly1305` key with `encrypt` usage). */
  key: string;
  /** Encryption context: bound by Keyward to the wrapped data key and here to every frame; stored in the header. */
  context?: Readonly<Record<string, string>>;
  /** Plaintext bytes per frame, 1 … 16 MiB; 64 KiB by default. */
  frameSize?: number;
}

/** What a reader expects of a message. */
export interface EnvelopeDecryptOptions {
  /** When set, the header's context must be exactly this one (`context_mismatch` otherwise). */
  context?: Readonly<Record<string, string>>;
  /** Called once the header verified, before any plaintext is released. */
  onHeader?: (info: EnvelopeHeaderInfo) => void;
}

/** Settings of an {@link Envelope}, frozen at construction. */
export interface EnvelopeOptions {
  /** Reuse data keys within these bounds; without it every message gets a fresh data key. */
  cache?: DataKeyCacheOptions;
  /** Milliseconds since the epoch, for the cache's maximum age; `Date.now` by default. */
  now?: () => number;
  /** Source of message ids; the OS CSPRNG by default. Only test vectors replace it. */
  randomBytes?: (length: number) => Uint8Array;
}

/** A decrypted message and what its header said. */
export interface EnvelopeDecryptResult extends EnvelopeHeaderInfo {
  plaintext: Uint8Array;
}

/**
 * Envelope encryption of messages of any size (docs/transit.md, "Envelope
 * encryption with the SDK"; format in docs/formats.md §11): a data key from
 * Keyward per message (or per cached batch of messages), chunked
 * AES-256-GCM frames, and decryption that asks Keyward to unwrap the data key
 * with the version its ciphertext names, so it keeps working across
 * rotations.
 *
 * Streams release each frame's plaintext only after its tag verified, but
 * earlier frames leave before later ones are read: treat a stream's output as
 * unverified until the stream ended without an error.
 *
 * @example
 * await pipeline(createReadStream('in'), client.envelope.encryptStream({ key: 'backups', context: { app: 'db' } }), createWriteStream('out.kwe'));
 * await pipeline(createReadStream('out.kwe'), client.envelope.decryptStream(), createWriteStream('in.copy'));
 */
export class Envelope {
  readonly #service: EnvelopeKeyService;
  readonly #cache: DataKeyCache | undefined;
  readonly #randomBytes: (length: number) => Uint8Array;

  constructor(service: EnvelopeKeyService, options: EnvelopeOptions = {}) {
    this.#service = service;
    this.#cache = options.cache === undefined ? undefined : new DataKeyCache(options.cache, options.now);
    this.#randomBytes = options.randomBytes ?? ((length) => osRandomBytes(length));
  }

  /**
   * A Node `Transform` from plaintext to an envelope.
   *
   * @example
   * await pipeline(source, client.envelope.encryptStream({ key: 'backups' }), sink);
   */
  encryptStream(options: EnvelopeEncryptOptions): Transform {
    return nodeTransform(this.#sealSession(options));
  }

  /**
   * A Node `Transform` from an envelope to its plaintext; the key comes from the header.
   *
   * @example
   * await pipeline(source, client.envelope.decryptStream({ context: { app: 'db' } }), sink);
   */
  decryptStream(options: EnvelopeDecryptOptions = {}): Transform {
    return nodeTransform(this.#openSession(options));
  }

  /**
   * A web `TransformStream` from plaintext to an envelope.
   *
   * @example
   * const sealed = response.body.pipeThrough(client.envelope.encryptWebStream({ key: 'uploads' }));
   */
  encryptWebStream(options: EnvelopeEncryptOptions): TransformStream<Uint8Array, Uint8Array> {
    return webTransform(this.#sealSession(options));
  }

  /**
   * A web `TransformStream` from an envelope to its plaintext.
   *
   * @example
   * const plain = sealed.pipeThrough(client.envelope.decryptWebStream());
   */
  decryptWebStream(options: EnvelopeDecryptOptions = {}): TransformStream<Uint8Array, Uint8Array> {
    return webTransform(this.#openSession(options));
  }

  /**
   * Seals a whole message held in memory.
   *
   * @example
   * const sealed = await client.envelope.encrypt(bytes, { key: 'uploads', context: { user: '7' } });
   */
  async encrypt(plaintext: Uint8Array, options: EnvelopeEncryptOptions): Promise<Uint8Array> {
    const session = this.#sealSession(options);
    try {
      const parts = [...(await session.push(plaintext)), ...(await session.finish())];
      return new Uint8Array(Buffer.concat(parts));
    } catch (error) {
      session.abort();
      throw error;
    }
  }

  /**
   * Opens a whole envelope held in memory.
   *
   * @example
   * const { plaintext, keyVersion } = await client.envelope.decrypt(sealed, { context: { user: '7' } });
   */
  async decrypt(envelope: Uint8Array, options: EnvelopeDecryptOptions = {}): Promise<EnvelopeDecryptResult> {
    const session = this.#openSession(options);
    try {
      const parts = [...(await session.push(envelope)), ...(await session.finish())];
      const info = session.info;
      if (info === undefined) throw new Error('unreachable: a finished envelope has a header');
      return { ...info, plaintext: new Uint8Array(Buffer.concat(parts)) };
    } catch (error) {
      session.abort();
      throw error;
    }
  }

  /** Zeroes and drops every cached data key. */
  clearCache(): void {
    this.#cache?.clear();
  }

  #sealSession(options: EnvelopeEncryptOptions): SealSession {
    const context = options.context ?? {};
    const frameSize = options.frameSize ?? DEFAULT_FRAME_SIZE;
    // Validate everything now, so bad input fails before any call to Keyward.
    checkSealOptions(options.key, frameSize);
    const contextId = encodeEnvelopeContext(context).toString('hex');
    return new SealSession(async () => {
      const lease = await this.#lease(options.key, context, contextId);
      const { dataKey } = lease;
      const fields = {
        keyName: options.key,
        wrappedKey: dataKey.wrappedKey,
        context,
        frameSize,
        messageId: this.#randomBytes(MESSAGE_ID_BYTES),
      };
      try {
        return { sealer: new EnvelopeSealer(fields, dataKey.plaintext), lease };
      } finally {
        // Without a cache the data key served this message only, and its keys are derived: wipe it now.
        if (this.#cache === undefined) dataKey.plaintext.fill(0);
      }
    });
  }

  #lease(key: string, context: Readonly<Record<string, string>>, contextId: string): Promise<DataKeyLease> {
    const fetch = () => fetchDataKey(this.#service, key, context);
    if (this.#cache === undefined) return fetch().then((dataKey) => ({ dataKey, addBytes: () => {} }));
    return this.#cache.lease(`${key}\u0000${contextId}`, fetch);
  }

  #openSession(options: EnvelopeDecryptOptions): OpenSession {
    return new OpenSession(this.#service, options.context, options.onHeader);
  }
}

/** A message being sealed or opened, as the stream adapters drive it. */
interface StreamSession {
  push(chunk: Uint8Array): Promise<Buffer[]>;
  finish(): Promise<Buffer[]>;
  abort(): void;
}

function nodeTransform(session: StreamSession): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      session.push(chunk).then((parts) => {
        for (const part of parts) this.push(part);
        callback();
      }, callback);
    },
    flush(callback) {
      session.finish().then((parts) => {
        for (const part of parts) this.push(part);
        callback();
      }, callback);
    },
    destroy(error, callback) {
      session.abort();
      callback(error);
    },
  });
}

function webTransform(session: StreamSession): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      try {
        for (const part of await session.push(chunk)) controller.enqueue(new Uint8Array(part.buffer, part.byteOffset, part.length));
      } catch (error) {
        session.abort();
        throw error;
      }
    },
    async flush(controller) {
      try {
        for (const part of await session.finish()) controller.enqueue(new Uint8Array(part.buffer, part.byteOffset, part.length));
      } catch (error) {
        session.abort();
        throw error;
      }
    },
  });
}
