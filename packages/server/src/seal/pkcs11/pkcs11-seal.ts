import { CryptoError, randomBytes } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { callerAad } from '../root-key.js';
import type { Seal, SealStatus } from '../seal.js';
import { sealedError } from '../sealed-error.js';
import type { TokenKeys } from '../token-keys.js';
import { loadPkcs11Library, reinitializePkcs11Library } from './pkcs11-library.js';
import { isLost, isTransientAtOpen, Pkcs11Failure, Pkcs11Session, type Pkcs11Target } from './pkcs11-session.js';

/** Configuration of a {@link Pkcs11Seal}; frozen at construction. */
export interface Pkcs11SealConfig extends Pkcs11Target {
  /** Reads the user PIN (from a file or the environment; never argv). Called by `open()` and `init()`. */
  readonly readPin: () => Promise<string>;
  /**
   * Waits before the `attempt`+1-th try to open a session after a transient
   * failure (see {@link OPEN_ATTEMPTS}); tests pass their own. Default: 25 ms,
   * doubling (25, 50, 100, 200).
   */
  readonly pause?: (attempt: number) => Promise<void>;
}

/** Tries to open a session before a transient failure is reported (about 0.4 s of pauses in all). */
const OPEN_ATTEMPTS = 5;

const defaultPause = (attempt: number) => new Promise<void>((resolve) => setTimeout(resolve, 25 * 2 ** (attempt - 1)));

/** The GCM nonce: 96 random bits per wrap (NIST SP 800-38D §8.2.2). */
const IV_BYTES = 12;

/**
 * A seal whose root key is a non-extractable AES-256 object inside a PKCS#11
 * token (an HSM; SoftHSM2 for trying it). Wrap and unwrap are AES-256-GCM
 * done by the token (`CKM_AES_GCM`); the root key never leaves it, and no
 * key material of the seal is ever written to disk. See `docs/seals.md`.
 *
 * `open()` logs in and finds the key by label (unsealing);
 * `init()` creates it when absent; `seal()` closes the session and forgets
 * the PIN, and `open()` unseals again. When the token goes away at run time,
 * wrap and unwrap answer `sealed` and reconnect on the next call.
 *
 * @example
 * const seal = new Pkcs11Seal({ library, token: 'keyward', keyLabel: 'keyward-root', readPin });
 * await seal.open();
 * if (!seal.status().initialized) await seal.init();
 */
export class Pkcs11Seal implements Seal {
  readonly kind = 'pkcs11' as const;
  readonly #config: Readonly<Required<Pkcs11SealConfig>>;
  #initialized = false;
  /** The PIN, kept while unsealed so a lost session can be reopened. */
  #pin: string | null = null;
  #session: Pkcs11Session | null = null;

  constructor(config: Pkcs11SealConfig) {
    this.#config = Object.freeze({
      library: config.library,
      token: config.token,
      keyLabel: config.keyLabel,
      readPin: config.readPin,
      pause: config.pause ?? defaultPause,
    });
  }

  /**
   * Logs in and finds the root key by label. No key leaves the seal sealed
   * and uninitialized; a refused PIN, a missing token or an unfit key throws
   * `KeywardError('internal')` with one line, and leaves the seal sealed.
   */
  async open(): Promise<void> {
    this.seal();
    const pin = await this.#config.readPin();
    const session = await this.#connect(pin);
    let found: boolean;
    try {
      found = session.findKey();
    } catch (error) {
      session.close();
      throw startError(error);
    }
    this.#initialized = found;
    if (!found) {
      session.close();
      return;
    }
    this.#session = session;
    this.#pin = pin;
  }

  /**
   * Generates the root key in the token and leaves the seal unsealed.
   * Throws `KeywardError('conflict')` when a key with the label exists.
   */
  async init(): Promise<void> {
    this.seal();
    const pin = await this.#config.readPin();
    const session = await this.#connect(pin);
    try {
      if (session.findKey()) {
        throw new KeywardError(
          'conflict',
          `token '${this.#config.token}' already holds a key labelled '${this.#config.keyLabel}'; the pkcs11 seal is already initialized`,
        );
      }
      session.generateKey();
    } catch (error) {
      session.close();
      throw startError(error);
    }
    this.#initialized = true;
    this.#session = session;
    this.#pin = pin;
  }

  /**
   * Destroys the root key object in the token and seals: what a rekey does
   * to the old root once every KEK is wrapped under the new one. Nothing to
   * destroy (already gone) is fine. Irreversible: every blob wrapped under
   * this key becomes unreadable.
   */
  async destroy(): Promise<void> {
    this.seal();
    const pin = await this.#config.readPin();
    const session = await this.#connect(pin);
    try {
      if (session.findKey()) session.destroyKey();
    } catch (error) {
      throw startError(error);
    } finally {
      session.close();
    }
    this.#initialized = false;
  }

  status(): SealStatus {
    return Object.freeze({ kind: this.kind, initialized: this.#initialized, sealed: this.#pin === null, progress: 0, threshold: 0 });
  }

  async wrap(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#withSession((session) => session.encrypt(randomBytes(IV_BYTES), plaintext, callerAad(aad)));
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const plain = this.#withSession((session) => session.decrypt(wrapped, callerAad(aad)));
    // One opaque answer for every blob that does not authenticate (docs/seals.md).
    if (plain === null) throw new CryptoError('decrypt_failed', 'decryption failed');
    return plain;
  }

  /**
   * Key versions held in this seal's token, over the seal's own session (one
   * per process): see {@link TokenKeys}. Sealed, they answer `sealed`.
   */
  tokenKeys(): TokenKeys {
    const object = (session: Pkcs11Session, id: Uint8Array, label: string, objectClass?: number) => {
      const found = session.findById(id, objectClass);
      if (found === null) {
        throw new KeywardError(
          'internal',
          `the token '${this.#config.token}' holds no key object '${label}'; it was destroyed outside Keyward`,
        );
      }
      // The stored reference must name this version's object: a row edited to point at another key's object is refused.
      if (found.label !== label) {
        throw new KeywardError(
          'internal',
          `the token object referenced for '${label}' belongs to another key; the database may have been altered`,
        );
      }
      return found.handle;
    };
    return Object.freeze({
      generateAesKey: (id: Uint8Array, label: string) => this.#withSession((s) => s.generateVersionKey(id, label)),
      aesGcmEncrypt: (id: Uint8Array, label: string, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) =>
        this.#withSession((s) => s.encryptWith(object(s, id, label), iv, plaintext, aad)),
      aesGcmDecrypt: (id: Uint8Array, label: string, iv: Uint8Array, body: Uint8Array, aad: Uint8Array) =>
        this.#withSession((s) => s.decryptWith(object(s, id, label), iv, body, aad)),
      generateEcKeyPair: (id: Uint8Array, label: string) => this.#withSession((s) => s.generateVersionKeyPair(id, label)),
      ecdsaSignDigest: (id: Uint8Array, label: string, digest: Uint8Array) =>
        this.#withSession((s) =>
          s.signDigestWith(object(s, id, label, loadPkcs11Library(this.#config.library).ck.CKO_PRIVATE_KEY), digest),
        ),
      generateRsaKeyPair: (id: Uint8Array, label: string, modulusBits: number) =>
        this.#withSpareSession((s) => s.generateVersionRsaKeyPair(id, label, modulusBits)),
      rsaPssSign: (id: Uint8Array, label: string, hash: 'sha256' | 'sha512', saltLength: number, message: Uint8Array) =>
        this.#withSession((s) =>
          s.signPssWith(object(s, id, label, loadPkcs11Library(this.#config.library).ck.CKO_PRIVATE_KEY), hash, saltLength, message),
        ),
      destroyKey: (id: Uint8Array) => this.#withSession((s) => s.destroyById(id)),
    });
  }

  seal(): void {
    this.#pin = null;
    this.#session?.close();
    this.#session = null;
  }

  /**
   * Runs `op` on the session. A lost session (token reset, sessions closed
   * under us) is reopened and `op` retried once; a token that stays away
   * answers `sealed` (503) for this call, never a crash, and the seal stays
   * unsealed so a returning token serves again.
   */
  #withSession<T>(op: (session: Pkcs11Session) => T): T {
    const pin = this.#pin;
    if (pin === null) throw sealedError(this.kind);
    for (let attempt = 1; ; attempt++) {
      try {
        this.#session ??= this.#reconnect(pin);
        return op(this.#session);
      } catch (error) {
        if (!(error instanceof Pkcs11Failure)) throw error;
        this.#session?.close();
        this.#session = null;
        if (isLost(error) && attempt < 2) continue;
        const reason = isLost(error) ? `the PKCS#11 token is unavailable: ${error.message}` : error.message;
        throw new KeywardError('sealed', `${reason}; the pkcs11 seal cannot wrap or unwrap until the token answers again`);
      }
    }
  }

  /**
   * Runs a long asynchronous `op` on a session of its own, opened for it and
   * closed after, so the seal's session stays free for the synchronous calls
   * that interleave meanwhile (PKCS#11 lets an application's sessions share
   * its login; closing this one logs nothing out while the seal's is open).
   * Failures answer `sealed` as the seal's own session's do.
   */
  async #withSpareSession<T>(op: (session: Pkcs11Session) => Promise<T>): Promise<T> {
    const pin = this.#pin;
    if (pin === null) throw sealedError(this.kind);
    let session: Pkcs11Session | null = null;
    try {
      session = await this.#open(pin);
      return await op(session);
    } catch (error) {
      if (!(error instanceof Pkcs11Failure)) throw error;
      const reason = isLost(error) ? `the PKCS#11 token is unavailable: ${error.message}` : error.message;
      throw new KeywardError('sealed', `${reason}; the pkcs11 seal cannot generate keys until the token answers again`);
    } finally {
      session?.close();
    }
  }

  /** A new logged-in session with the root key found; throws {@link Pkcs11Failure}. */
  #reconnect(pin: string): Pkcs11Session {
    const session = new Pkcs11Session(loadPkcs11Library(this.#config.library), this.#config, pin);
    try {
      if (!session.findKey()) {
        throw new Pkcs11Failure(`the key labelled '${this.#config.keyLabel}' is gone from token '${this.#config.token}'`, null);
      }
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  async #connect(pin: string): Promise<Pkcs11Session> {
    try {
      return await this.#open(pin);
    } catch (error) {
      throw startError(error);
    }
  }

  /**
   * A new logged-in session. A transient failure (another process logging
   * in to the token at that moment: {@link isTransientAtOpen}) is tried
   * again after a pause, up to {@link OPEN_ATTEMPTS} times; before each new
   * try the library reads its slots anew when this process has no session
   * open. Throws {@link Pkcs11Failure}; a refused PIN at once.
   */
  async #open(pin: string): Promise<Pkcs11Session> {
    const { library } = this.#config;
    for (let attempt = 1; ; attempt++) {
      try {
        return new Pkcs11Session(loadPkcs11Library(library), this.#config, pin);
      } catch (error) {
        if (attempt >= OPEN_ATTEMPTS || !isTransientAtOpen(error)) throw error;
      }
      await this.#config.pause(attempt);
      reinitializePkcs11Library(loadPkcs11Library(library), library);
    }
  }
}

/** A start-up failure as the contract wants it: `internal`, one line, no secret (messages are built without the PIN). */
function startError(error: unknown): unknown {
  if (error instanceof KeywardError) return error;
  if (error instanceof Error) return new KeywardError('internal', error.message.split('\n')[0] ?? 'PKCS#11 failure');
  return error;
}
