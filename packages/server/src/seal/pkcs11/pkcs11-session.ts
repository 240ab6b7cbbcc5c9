import type { Handle, Mechanism, RsaPSS, Template } from 'pkcs11js';
import type { RsaPublicNumbers } from '../token-keys.js';
import { zero } from '../zero.js';
import { ckrName, type Pkcs11Js, type Pkcs11Library, sessionClosed, sessionOpened } from './pkcs11-library.js';

/** What to open: the library, the token (by label: slot numbers change) and the root key's label. */
export interface Pkcs11Target {
  readonly library: string;
  readonly token: string;
  readonly keyLabel: string;
}

/**
 * A failure talking to the token, with the PKCS#11 return value's name
 * (`CKR_…`) when there is one. The message never holds the PIN or key bytes.
 */
export class Pkcs11Failure extends Error {
  readonly ckr: string | null;

  constructor(message: string, ckr: string | null) {
    super(message);
    this.ckr = ckr;
  }
}

/** Return values meaning the token, the session or the login is gone: reconnecting may help, the blob is not at fault. */
const LOST = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_DEVICE_MEMORY',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_SLOT_ID_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
]);

/** True when `error` says the token or session went away (see {@link LOST}). */
export function isLost(error: unknown): boolean {
  return error instanceof Pkcs11Failure && error.ckr !== null && LOST.has(error.ckr);
}

/**
 * Return values that opening a session can meet for a moment while another
 * process logs in to the same token: SoftHSM2 rewrites the token's file on
 * every login, and a process reading it then sees no token
 * (`CKR_TOKEN_NOT_PRESENT`, from the slot search), fails the read
 * (`CKR_GENERAL_ERROR`) or sees no user PIN (`CKR_USER_PIN_NOT_INITIALIZED`).
 * Trying again after a pause succeeds. A refused or locked PIN is never
 * among them: each try would count against the token's PIN retry limit.
 */
const TRANSIENT_AT_OPEN = new Set(['CKR_TOKEN_NOT_PRESENT', 'CKR_GENERAL_ERROR', 'CKR_USER_PIN_NOT_INITIALIZED']);

/** True when opening a session failed in a way that trying again may cure (see {@link TRANSIENT_AT_OPEN}). */
export function isTransientAtOpen(error: unknown): boolean {
  return error instanceof Pkcs11Failure && error.ckr !== null && TRANSIENT_AT_OPEN.has(error.ckr);
}

/** AES-GCM with a 96-bit IV and a 128-bit tag (NIST SP 800-38D §5.2.1.1, §5.2.1.2). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ROOT_KEY_BITS = 256;

/**
 * One logged-in read/write session on the token and the root key's handle.
 * Every call but RSA generation is synchronous (pkcs11js blocks until the
 * token answers), so two operations never interleave on the session: an
 * `EncryptInit` is always followed by its `Encrypt` before anything else
 * runs. RSA generation is asynchronous and runs on a session of its own.
 */
export class Pkcs11Session {
  readonly #lib: Pkcs11Library;
  readonly #target: Pkcs11Target;
  readonly #session: Handle;
  #key: Handle | null = null;
  #closed = false;
  /** Handles of key-version objects found or created in this session, by hex CKA_ID. */
  readonly #objects = new Map<string, Handle>();

  /**
   * Opens a session on the token labelled `target.token` and logs in with
   * `pin`. Throws {@link Pkcs11Failure} with a one-line reason (token not
   * found, PIN refused or locked, …); the PIN is never part of it.
   */
  constructor(lib: Pkcs11Library, target: Pkcs11Target, pin: string) {
    this.#lib = lib;
    this.#target = target;
    const { ck, module } = lib;
    const slot = findSlot(lib, target.token);
    this.#session = call(`open a session on token '${target.token}'`, () =>
      module.C_OpenSession(slot, ck.CKF_SERIAL_SESSION | ck.CKF_RW_SESSION),
    );
    sessionOpened(lib);
    try {
      module.C_Login(this.#session, ck.CKU_USER, pin);
    } catch (error) {
      const ckr = ckrName(error);
      // Another session of this process logged in to the same token already: the login is per application (PKCS#11 §5.6).
      if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') return;
      this.close();
      if (ckr === 'CKR_PIN_INCORRECT') throw new Pkcs11Failure(`the PKCS#11 PIN was refused by token '${target.token}'`, ckr);
      if (ckr === 'CKR_PIN_LOCKED') throw new Pkcs11Failure(`the PKCS#11 PIN of token '${target.token}' is locked`, ckr);
      throw new Pkcs11Failure(`cannot log in to PKCS#11 token '${target.token}' (${ckr ?? 'unknown error'})`, ckr);
    }
  }

  /**
   * Finds the root key by label and checks what it is; false when there is
   * none. Throws when several objects carry the label, or when the object is
   * not a sensitive, non-extractable AES-256 key allowed to encrypt and decrypt.
   */
  findKey(): boolean {
    const { ck, module } = this.#lib;
    const label = this.#target.keyLabel;
    const handles = call('search the token', () => {
      module.C_FindObjectsInit(this.#session, [
        { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
        { type: ck.CKA_LABEL, value: label },
      ]);
      try {
        return module.C_FindObjects(this.#session, 2);
      } finally {
        module.C_FindObjectsFinal(this.#session);
      }
    });
    if (handles.length === 0) return false;
    if (handles.length > 1) throw new Pkcs11Failure(`token '${this.#target.token}' holds several keys labelled '${label}'; keep one`, null);
    const key = handles[0] as Handle;
    const defects = this.#defects(key);
    if (defects.length > 0) {
      throw new Pkcs11Failure(
        `the key labelled '${label}' in token '${this.#target.token}' is unfit as a root key: ${defects.join(', ')}`,
        null,
      );
    }
    this.#key = key;
    return true;
  }

  /** Generates the root key in the token: AES-256, token object, sensitive, never extractable, encrypt/decrypt only. */
  generateKey(): void {
    const { ck, module } = this.#lib;
    this.#key = call('generate the root key in the token', () =>
      module.C_GenerateKey(this.#session, { mechanism: ck.CKM_AES_KEY_GEN }, [
        { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
        { type: ck.CKA_KEY_TYPE, value: ck.CKK_AES },
        { type: ck.CKA_VALUE_LEN, value: ROOT_KEY_BITS / 8 },
        { type: ck.CKA_LABEL, value: this.#target.keyLabel },
        { type: ck.CKA_TOKEN, value: true },
        { type: ck.CKA_PRIVATE, value: true },
        { type: ck.CKA_SENSITIVE, value: true },
        { type: ck.CKA_EXTRACTABLE, value: false },
        { type: ck.CKA_MODIFIABLE, value: false },
        { type: ck.CKA_ENCRYPT, value: true },
        { type: ck.CKA_DECRYPT, value: true },
        { type: ck.CKA_WRAP, value: false },
        { type: ck.CKA_UNWRAP, value: false },
        { type: ck.CKA_SIGN, value: false },
        { type: ck.CKA_VERIFY, value: false },
        { type: ck.CKA_DERIVE, value: false },
      ]),
    );
  }

  /** Destroys the key found by {@link findKey} (`C_DestroyObject`): a rekey retiring the old root key. */
  destroyKey(): void {
    const key = this.#requireKey();
    call('destroy the old root key in the token', () => this.#lib.module.C_DestroyObject(this.#session, key));
    this.#key = null;
  }

  /** AES-256-GCM in the token: returns `iv ‖ ciphertext ‖ tag`, with a fresh random IV. */
  encrypt(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const out = this.encryptWith(this.#requireKey(), iv, plaintext, aad);
    const blob = new Uint8Array(IV_BYTES + out.length);
    blob.set(iv, 0);
    blob.set(out, IV_BYTES);
    return blob;
  }

  /** AES-GCM in the token under `key` (any AES key object): returns `ciphertext ‖ tag`. */
  encryptWith(key: Handle, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const { module } = this.#lib;
    const input = nonNull(plaintext);
    try {
      return new Uint8Array(
        call('encrypt in the token', () => {
          module.C_EncryptInit(this.#session, this.#gcm(iv, aad), key);
          return module.C_Encrypt(this.#session, input, Buffer.alloc(plaintext.length + TAG_BYTES));
        }),
      );
    } finally {
      zero(input);
    }
  }

  /**
   * Inverse of {@link encrypt}. Returns null when the blob does not
   * authenticate (SoftHSM answers `CKR_GENERAL_ERROR`, others
   * `CKR_ENCRYPTED_DATA_INVALID`); throws {@link Pkcs11Failure} otherwise.
   */
  decrypt(blob: Uint8Array, aad: Uint8Array): Uint8Array | null {
    if (blob.length < IV_BYTES + TAG_BYTES) return null;
    return this.decryptWith(this.#requireKey(), blob.subarray(0, IV_BYTES), blob.subarray(IV_BYTES), aad);
  }

  /** Inverse of {@link encryptWith}: `body` is `ciphertext ‖ tag`; null when it does not authenticate. */
  decryptWith(key: Handle, iv: Uint8Array, body: Uint8Array, aad: Uint8Array): Uint8Array | null {
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return null;
    const { module } = this.#lib;
    call('start decrypting in the token', () => module.C_DecryptInit(this.#session, this.#gcm(iv, aad), key));
    const out = Buffer.alloc(body.length);
    try {
      return new Uint8Array(module.C_Decrypt(this.#session, Buffer.from(body), out));
    } catch (error) {
      const ckr = ckrName(error);
      if (ckr === null || LOST.has(ckr)) throw new Pkcs11Failure(`cannot decrypt in the token (${ckr ?? 'unknown error'})`, ckr);
      return null;
    } finally {
      zero(out);
    }
  }

  /**
   * Generates a key version's AES-256 key in the token (a token object that
   * outlives the session): sensitive and never extractable, so its value can
   * never be read out (PKCS#11 v2.40 §4.10 table 10), encrypt/decrypt only.
   */
  generateVersionKey(id: Uint8Array, label: string): void {
    const { ck, module } = this.#lib;
    const handle = call('generate a key in the token', () =>
      module.C_GenerateKey(this.#session, { mechanism: ck.CKM_AES_KEY_GEN }, [
        { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
        { type: ck.CKA_KEY_TYPE, value: ck.CKK_AES },
        { type: ck.CKA_VALUE_LEN, value: ROOT_KEY_BITS / 8 },
        { type: ck.CKA_ID, value: Buffer.from(id) },
        { type: ck.CKA_LABEL, value: label },
        { type: ck.CKA_TOKEN, value: true },
        { type: ck.CKA_PRIVATE, value: true },
        { type: ck.CKA_SENSITIVE, value: true },
        { type: ck.CKA_EXTRACTABLE, value: false },
        { type: ck.CKA_MODIFIABLE, value: false },
        { type: ck.CKA_ENCRYPT, value: true },
        { type: ck.CKA_DECRYPT, value: true },
        { type: ck.CKA_WRAP, value: false },
        { type: ck.CKA_UNWRAP, value: false },
        { type: ck.CKA_SIGN, value: false },
        { type: ck.CKA_VERIFY, value: false },
        { type: ck.CKA_DERIVE, value: false },
      ]),
    );
    this.#objects.set(`${ck.CKO_SECRET_KEY}:${hex(id)}`, handle);
  }

  /**
   * Generates a key version's ECDSA P-256 key pair in the token (token
   * objects): the private key sensitive, never extractable, sign only; the
   * public key verify only. Returns the public point, uncompressed
   * (SEC 1 §2.3.3: `04 ‖ X ‖ Y`, 65 bytes).
   */
  generateVersionKeyPair(id: Uint8Array, label: string): Uint8Array {
    const { ck, module } = this.#lib;
    const [publicTemplate, privateTemplate] = this.#signingPair(id, label, [{ type: ck.CKA_EC_PARAMS, value: P256_OID }]);
    const pair = call('generate a key pair in the token', () =>
      module.C_GenerateKeyPair(this.#session, { mechanism: ck.CKM_EC_KEY_PAIR_GEN }, publicTemplate, privateTemplate),
    );
    this.#objects.set(`${ck.CKO_PRIVATE_KEY}:${hex(id)}`, pair.privateKey);
    const point = call('read the public key', () =>
      module.C_GetAttributeValue(this.#session, pair.publicKey, [{ type: ck.CKA_EC_POINT }]),
    )[0]?.value;
    return ecPoint(point);
  }

  /**
   * Generates a key version's RSA key pair in the token (`CKM_RSA_PKCS_KEY_PAIR_GEN`,
   * public exponent 65537, token objects): the private key sensitive, never
   * extractable, sign only; the public key verify only. Returns the public
   * key's modulus and exponent (big-endian, as PKCS#11 stores them).
   *
   * The only call here that does not block: finding the primes of a 4096-bit
   * modulus takes a software token 1–6 s, so the generation runs in libuv's thread
   * pool (`C_GenerateKeyPairAsync`) and the event loop keeps serving. Call it
   * on a session of its own ({@link Pkcs11Seal}'s spare session), never on
   * one that other calls use meanwhile.
   */
  async generateVersionRsaKeyPair(id: Uint8Array, label: string, modulusBits: number): Promise<RsaPublicNumbers> {
    const { ck, module } = this.#lib;
    const [publicTemplate, privateTemplate] = this.#signingPair(id, label, [
      { type: ck.CKA_MODULUS_BITS, value: modulusBits },
      { type: ck.CKA_PUBLIC_EXPONENT, value: RSA_PUBLIC_EXPONENT },
    ]);
    let pair: { privateKey: Handle; publicKey: Handle };
    try {
      pair = await module.C_GenerateKeyPairAsync(
        this.#session,
        { mechanism: ck.CKM_RSA_PKCS_KEY_PAIR_GEN },
        publicTemplate,
        privateTemplate,
      );
    } catch (error) {
      throw failure('generate an RSA key pair in the token', error);
    }
    this.#objects.set(`${ck.CKO_PRIVATE_KEY}:${hex(id)}`, pair.privateKey);
    const [modulus, exponent] = call('read the public key', () =>
      module.C_GetAttributeValue(this.#session, pair.publicKey, [{ type: ck.CKA_MODULUS }, { type: ck.CKA_PUBLIC_EXPONENT }]),
    );
    if (modulus?.value === undefined || exponent?.value === undefined || modulus.value.length * 8 !== modulusBits) {
      throw new Pkcs11Failure(`the token returned an RSA public key that is not ${modulusBits} bits`, null);
    }
    return { modulus: new Uint8Array(modulus.value), publicExponent: new Uint8Array(exponent.value) };
  }

  /**
   * RSASSA-PSS (RFC 8017 §8.1) in the token with the private key `key` over
   * `message`, hashed by the token: `CKM_SHA256_RSA_PKCS_PSS` or
   * `CKM_SHA512_RSA_PKCS_PSS` with MGF1 over the same hash and a salt of
   * `saltLength` bytes (PKCS#11 v2.40 curr. §2.1.14). Returns the signature,
   * as long as the modulus.
   */
  signPssWith(key: Handle, hash: 'sha256' | 'sha512', saltLength: number, message: Uint8Array): Uint8Array {
    const { ck, module } = this.#lib;
    return new Uint8Array(
      call('sign in the token', () => {
        module.C_SignInit(this.#session, pssMechanism(ck, hash, saltLength), key);
        return module.C_Sign(this.#session, nonNull(message), Buffer.alloc(RSA_MAX_SIGNATURE_BYTES));
      }),
    );
  }

  /** ECDSA (`CKM_ECDSA`) in the token over a digest computed by the caller; returns `r ‖ s` (PKCS#11 v2.40 curr. §2.3.1). */
  signDigestWith(key: Handle, digest: Uint8Array): Uint8Array {
    const { ck, module } = this.#lib;
    return new Uint8Array(
      call('sign in the token', () => {
        module.C_SignInit(this.#session, { mechanism: ck.CKM_ECDSA }, key);
        return module.C_Sign(this.#session, Buffer.from(digest), Buffer.alloc(2 * 66));
      }),
    );
  }

  /**
   * The object of class `objectClass` (default: secret key) whose CKA_ID is
   * `id`, and its CKA_LABEL; null when the token holds none. Handles are
   * remembered for the session's life.
   */
  findById(id: Uint8Array, objectClass: number = this.#lib.ck.CKO_SECRET_KEY): { handle: Handle; label: string } | null {
    const { ck, module } = this.#lib;
    const slot = `${objectClass}:${hex(id)}`;
    const cached = this.#objects.get(slot);
    const handle =
      cached ??
      call('search the token', () => {
        module.C_FindObjectsInit(this.#session, [
          { type: ck.CKA_CLASS, value: objectClass },
          { type: ck.CKA_ID, value: Buffer.from(id) },
        ]);
        try {
          return module.C_FindObjects(this.#session, 1)[0];
        } finally {
          module.C_FindObjectsFinal(this.#session);
        }
      });
    if (handle === undefined) return null;
    const label = call('read a key label', () => module.C_GetAttributeValue(this.#session, handle, [{ type: ck.CKA_LABEL }]))[0]?.value;
    this.#objects.set(slot, handle);
    return { handle, label: label === undefined ? '' : label.toString('utf8') };
  }

  /** Destroys every key object (secret, private, public) with CKA_ID `id`; false when there is none. */
  destroyById(id: Uint8Array): boolean {
    const { ck } = this.#lib;
    let destroyed = false;
    for (const objectClass of [ck.CKO_SECRET_KEY, ck.CKO_PRIVATE_KEY, ck.CKO_PUBLIC_KEY]) {
      const found = this.findById(id, objectClass);
      if (found === null) continue;
      call('destroy a key in the token', () => this.#lib.module.C_DestroyObject(this.#session, found.handle));
      this.#objects.delete(`${objectClass}:${hex(id)}`);
      destroyed = true;
    }
    return destroyed;
  }

  /** Closes the session; never throws (a vanished token has closed it already). Token objects it created outlive it. */
  close(): void {
    this.#key = null;
    this.#objects.clear();
    if (this.#closed) return;
    this.#closed = true;
    sessionClosed(this.#lib);
    try {
      this.#lib.module.C_CloseSession(this.#session);
    } catch {}
  }

  /**
   * Templates of a version's signing key pair (token objects, not
   * modifiable): the public key verify only, the private key private,
   * sensitive, never extractable, sign only; `publicParameters` are the
   * algorithm's (curve, or modulus size and exponent).
   */
  #signingPair(id: Uint8Array, label: string, publicParameters: Template): [Template, Template] {
    const { ck } = this.#lib;
    const common = [
      { type: ck.CKA_ID, value: Buffer.from(id) },
      { type: ck.CKA_LABEL, value: label },
      { type: ck.CKA_TOKEN, value: true },
      { type: ck.CKA_MODIFIABLE, value: false },
    ];
    return [
      [
        ...common,
        ...publicParameters,
        { type: ck.CKA_VERIFY, value: true },
        { type: ck.CKA_ENCRYPT, value: false },
        { type: ck.CKA_WRAP, value: false },
        { type: ck.CKA_DERIVE, value: false },
      ],
      [
        ...common,
        { type: ck.CKA_PRIVATE, value: true },
        { type: ck.CKA_SENSITIVE, value: true },
        { type: ck.CKA_EXTRACTABLE, value: false },
        { type: ck.CKA_SIGN, value: true },
        { type: ck.CKA_DECRYPT, value: false },
        { type: ck.CKA_UNWRAP, value: false },
        { type: ck.CKA_DERIVE, value: false },
      ],
    ];
  }

  #requireKey(): Handle {
    if (this.#key === null) throw new Pkcs11Failure(`no key labelled '${this.#target.keyLabel}' is open`, null);
    return this.#key;
  }

  #gcm(iv: Uint8Array, aad: Uint8Array) {
    const { ck } = this.#lib;
    return {
      mechanism: ck.CKM_AES_GCM,
      parameter: { type: ck.CK_PARAMS_GCM, iv: Buffer.from(iv), ivBits: IV_BYTES * 8, aad: Buffer.from(aad), tagBits: TAG_BYTES * 8 },
    };
  }

  #defects(key: Handle): string[] {
    const { ck, module } = this.#lib;
    const attributes = call('read the root key attributes', () =>
      module.C_GetAttributeValue(this.#session, key, [
        { type: ck.CKA_KEY_TYPE },
        { type: ck.CKA_VALUE_LEN },
        { type: ck.CKA_SENSITIVE },
        { type: ck.CKA_EXTRACTABLE },
        { type: ck.CKA_ENCRYPT },
        { type: ck.CKA_DECRYPT },
      ]),
    );
    const number = (i: number) => (attributes[i]?.value ?? Buffer.alloc(0)).readUIntLE(0, Math.min(6, attributes[i]?.value?.length ?? 1));
    const flag = (i: number) => attributes[i]?.value?.[0] === 1;
    const defects: string[] = [];
    if (number(0) !== ck.CKK_AES) defects.push('not an AES key');
    if (number(1) !== ROOT_KEY_BITS / 8) defects.push('not 256 bits');
    if (!flag(2)) defects.push('CKA_SENSITIVE is false');
    if (flag(3)) defects.push('CKA_EXTRACTABLE is true');
    if (!flag(4) || !flag(5)) defects.push('CKA_ENCRYPT or CKA_DECRYPT is false');
    return defects;
  }
}

/**
 * The slot holding the token labelled `label` (labels are 32 bytes padded
 * with spaces). A slot whose token cannot be read is passed over; when no
 * other slot holds the label, that read's failure is what is thrown (it may
 * be the token sought, caught mid-write by another process).
 */
function findSlot(lib: Pkcs11Library, label: string): Handle {
  const { module } = lib;
  const labels: string[] = [];
  let unreadable: Pkcs11Failure | null = null;
  const slots = call('list the slots', () => module.C_GetSlotList(true));
  for (const slot of slots) {
    let found: string;
    try {
      found = call('read a token', () => module.C_GetTokenInfo(slot).label.replace(/[ \0]+$/, ''));
    } catch (error) {
      unreadable ??= error as Pkcs11Failure;
      continue;
    }
    if (found === label) return slot;
    // SoftHSM always offers one uninitialized token, with an empty label.
    if (found !== '') labels.push(`'${found}'`);
  }
  if (unreadable !== null) throw unreadable;
  const present = labels.length === 0 ? 'no token is present' : `tokens present: ${labels.join(', ')}`;
  throw new Pkcs11Failure(`no PKCS#11 token labelled '${label}' (${present})`, 'CKR_TOKEN_NOT_PRESENT');
}

/** e = 65537 (F4), big-endian, for CKA_PUBLIC_EXPONENT: what node:crypto uses for software RSA keys (crypto registry). */
const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

/**
 * The RSASSA-PSS mechanism that hashes in the token: `CKM_SHA256_RSA_PKCS_PSS`
 * or `CKM_SHA512_RSA_PKCS_PSS`, with CK_RSA_PKCS_PSS_PARAMS naming the same
 * hash for the message and MGF1 and the salt length (PKCS#11 v2.40 curr. §2.1.14).
 */
export function pssMechanism(ck: Pkcs11Js, hash: 'sha256' | 'sha512', saltLength: number): Mechanism {
  const [mechanism, hashAlg, mgf] =
    hash === 'sha256'
      ? [ck.CKM_SHA256_RSA_PKCS_PSS, ck.CKM_SHA256, ck.CKG_MGF1_SHA256]
      : [ck.CKM_SHA512_RSA_PKCS_PSS, ck.CKM_SHA512, ck.CKG_MGF1_SHA512];
  const parameter: RsaPSS = { type: ck.CK_PARAMS_RSA_PSS, hashAlg, mgf, saltLen: saltLength };
  return { mechanism, parameter };
}

/** Room for the longest RSA signature Keyward makes (4096-bit modulus). */
const RSA_MAX_SIGNATURE_BYTES = 4096 / 8;

/** DER of the OID of NIST P-256, prime256v1 (RFC 5480 §2.1.1.1), for CKA_EC_PARAMS. */
const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');

/**
 * The uncompressed point from CKA_EC_POINT, which PKCS#11 v2.40 gives as a
 * DER OCTET STRING (`04 41 04 ‖ X ‖ Y`); some tokens give the bare point.
 */
function ecPoint(value: Buffer | undefined): Uint8Array {
  if (value !== undefined && value.length === 67 && value[0] === 0x04 && value[1] === 65 && value[2] === 0x04) {
    return new Uint8Array(value.subarray(2));
  }
  if (value !== undefined && value.length === 65 && value[0] === 0x04) return new Uint8Array(value);
  throw new Pkcs11Failure('the token returned an EC public key that is not an uncompressed P-256 point', null);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Runs a PKCS#11 call, turning its error into a one-line {@link Pkcs11Failure} that says what was being done. */
function call<T>(doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw failure(doing, error);
  }
}

/** `error` of a PKCS#11 call as a {@link Pkcs11Failure} naming what was being done and the `CKR_…` value. */
function failure(doing: string, error: unknown): Pkcs11Failure {
  if (error instanceof Pkcs11Failure) return error;
  const ckr = ckrName(error);
  return new Pkcs11Failure(`cannot ${doing} (${ckr ?? 'unknown error'})`, ckr);
}

/**
 * A Buffer over `bytes` whose data pointer is never NULL: pkcs11js passes an
 * empty Buffer as NULL, which SoftHSM refuses (`CKR_ARGUMENTS_BAD`) even for
 * zero-length input; an empty view into a 1-byte buffer is not NULL.
 */
function nonNull(bytes: Uint8Array): Buffer {
  if (bytes.length > 0) return Buffer.from(bytes);
  return Buffer.alloc(1).subarray(0, 0);
}
