import {
  type CiphertextAlgorithm,
  CryptoError,
  decryptCiphertext,
  encodeContext,
  encryptToCiphertext,
  mac,
  maxAsymmetricPlaintext,
  type ParsedCiphertext,
  parseCiphertext,
  publicJwk,
  publicJwkFromPem,
  randomBytes,
  type SignInput,
  sign,
  verify,
  verifyMac,
  verifyWithPublicKey,
} from '@keyward/crypto';
import {
  type EncryptionContext,
  INVALID_CIPHERTEXT_MESSAGE,
  type KeyOperation,
  type KeyUsage,
  KeywardError,
  type PublicKeyResponse,
} from '@keyward/wire';
import { assertKeyUsable, assertVersionAllows, versionAllows } from '../keys/operation-rules.js';
import type { KeyRecord, VersionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { CallContext } from './context.js';
import type { Gate, Scope } from './gate.js';
import type { HsmKeys } from './hsm-keys.js';
import { findVersion, type KeyDirectory, type LoadedKey } from './key-directory.js';
import type { Keyring } from './keyring.js';
import type { Lifecycle } from './lifecycle.js';
import type { SystemActions } from './system-actions.js';
import type { UseLimiter } from './use-limiter.js';

/** Which key usage each operation needs. */
const NEEDS_USAGE: Readonly<Record<KeyOperation, KeyUsage>> = Object.freeze({
  encrypt: 'encrypt',
  decrypt: 'encrypt',
  rewrap: 'encrypt',
  'data-key': 'encrypt',
  sign: 'sign',
  verify: 'sign',
  'public-key': 'sign',
  mac: 'mac',
  'verify-mac': 'mac',
});

export interface CryptoLimits {
  /** Largest plaintext or message, in bytes (API.md: 64 KiB by default). */
  maxPlaintextBytes: number;
}

const invalidCiphertext = (): KeywardError => new KeywardError('invalid_ciphertext', INVALID_CIPHERTEXT_MESSAGE);

/** Maps a crypto failure of caller input to a precise 400, never revealing secrets. */
function inputError(error: unknown, field: string): unknown {
  if (error instanceof CryptoError && (error.code === 'unsupported' || error.code === 'invalid_input')) {
    return new KeywardError('invalid_request', `${field}: ${error.message}`);
  }
  return error;
}

/**
 * The encryption context is the caller's data (often identifiers of people or
 * records): the audit record holds only its HMAC under the audit salt, which
 * an auditor holding a context can reproduce with `POST /v1/audit/hash`.
 */
function noteContext(scope: Scope, context: EncryptionContext): void {
  for (const _ in context) {
    scope.sensitive.context = encodeContext(context);
    return;
  }
}

/**
 * The cryptographic operations. Material never leaves: callers get
 * ciphertexts, signatures and MACs. The hot path touches the store only
 * through its audit record (keys, grants and material are cached).
 */
export class CryptoService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #hsm: HsmKeys;
  readonly #directory: KeyDirectory;
  readonly #limits: CryptoLimits;
  readonly #uses: UseLimiter;
  readonly #system: SystemActions;
  readonly #lifecycle: Lifecycle;
  readonly #rotations = new Map<string, Promise<unknown>>();

  constructor(deps: {
    gate: Gate;
    store: Store;
    keyring: Keyring;
    hsm: HsmKeys;
    directory: KeyDirectory;
    limits: CryptoLimits;
    uses: UseLimiter;
    system: SystemActions;
    lifecycle: Lifecycle;
  }) {
    this.#uses = deps.uses;
    this.#system = deps.system;
    this.#lifecycle = deps.lifecycle;
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#hsm = deps.hsm;
    this.#directory = deps.directory;
    this.#limits = Object.freeze({ ...deps.limits });
  }

  encrypt(
    ctx: CallContext,
    name: string,
    plaintext: Uint8Array,
    context: EncryptionContext,
  ): Promise<{ ciphertext: string; keyVersion: number }> {
    return this.#run(ctx, 'encrypt', name, async (key, scope) => {
      noteContext(scope, context);
      this.#checkSize('plaintext', plaintext, key.record);
      return this.#encryptWithPrimary(ctx, key, scope, plaintext, context);
    });
  }

  decrypt(
    ctx: CallContext,
    name: string,
    ciphertext: string,
    context: EncryptionContext,
  ): Promise<{ plaintext: Uint8Array; keyVersion: number }> {
    return this.#run(ctx, 'decrypt', name, async (key, scope) => {
      noteContext(scope, context);
      const plaintext = await this.#decrypt(key, scope, ciphertext, context, 'decrypt');
      return { plaintext, keyVersion: scope.keyVersion as number };
    });
  }

  rewrap(
    ctx: CallContext,
    name: string,
    ciphertext: string,
    context: EncryptionContext,
  ): Promise<{ ciphertext: string; keyVersion: number }> {
    return this.#run(ctx, 'rewrap', name, async (key, scope) => {
      noteContext(scope, context);
      const plaintext = await this.#decrypt(key, scope, ciphertext, context, 'decrypt');
      scope.details.fromVersion = scope.keyVersion;
      try {
        return await this.#encryptWithPrimary(ctx, key, scope, plaintext, context);
      } finally {
        plaintext.fill(0);
      }
    });
  }

  dataKey(
    ctx: CallContext,
    name: string,
    bytes: number,
    context: EncryptionContext,
    includePlaintext: boolean,
  ): Promise<{ plaintext?: Uint8Array; ciphertext: string; keyVersion: number }> {
    return this.#run(ctx, 'data-key', name, async (key, scope) => {
      noteContext(scope, context);
      const dataKey = randomBytes(bytes);
      scope.details.bytes = bytes;
      const { ciphertext, keyVersion } = await this.#encryptWithPrimary(ctx, key, scope, dataKey, context);
      if (includePlaintext) return { plaintext: dataKey, ciphertext, keyVersion };
      dataKey.fill(0);
      return { ciphertext, keyVersion };
    });
  }

  sign(ctx: CallContext, name: string, input: SignInput): Promise<{ signature: Uint8Array; keyVersion: number }> {
    return this.#run(ctx, 'sign', name, async (key, scope) => {
      if ('message' in input) this.#checkSize('message', input.message, key.record);
      const version = await this.#primary(key, 'sign', scope, ctx);
      if (key.record.protection === 'hsm') {
        try {
          return { signature: this.#hsm.sign(key.record, version, input), keyVersion: version.version };
        } catch (error) {
          throw inputError(error, 'digest');
        }
      }
      const secret = await this.#keyring.secret(this.#store, key.record, version);
      try {
        return { signature: sign(key.record.algorithm, secret, input), keyVersion: version.version };
      } catch (error) {
        throw inputError(error, 'message' in input ? 'message' : 'digest');
      }
    });
  }

  verify(
    ctx: CallContext,
    name: string,
    input: SignInput,
    signature: Uint8Array,
    keyVersion: number | null,
  ): Promise<{ valid: boolean; keyVersion: number | null }> {
    return this.#run(ctx, 'verify', name, async (key, scope) => {
      if ('message' in input) this.#checkSize('message', input.message, key.record);
      for (const version of this.#candidates(key, 'verify', keyVersion, scope)) {
        let valid: boolean;
        try {
          // An hsm version verifies with its public key in Node: only the private key is in the token.
          valid =
            key.record.protection === 'hsm' && version.publicKey !== null
              ? verifyWithPublicKey(key.record.algorithm, version.publicKey, input, signature)
              : verify(key.record.algorithm, await this.#keyring.secret(this.#store, key.record, version), input, signature);
        } catch (error) {
          throw inputError(error, 'message' in input ? 'message' : 'digest');
        }
        if (valid) {
          scope.keyVersion = version.version;
          scope.details.valid = true;
          return { valid: true, keyVersion: version.version };
        }
      }
      scope.details.valid = false;
      return { valid: false, keyVersion: null };
    });
  }

  mac(ctx: CallContext, name: string, message: Uint8Array): Promise<{ mac: Uint8Array; keyVersion: number }> {
    return this.#run(ctx, 'mac', name, async (key, scope) => {
      this.#checkSize('message', message, key.record);
      const version = await this.#primary(key, 'mac', scope, ctx);
      const secret = await this.#keyring.secret(this.#store, key.record, version);
      return { mac: mac(key.record.algorithm as 'hmac-sha256' | 'hmac-sha512', secret, message), keyVersion: version.version };
    });
  }

  verifyMac(ctx: CallContext, name: string, message: Uint8Array, tag: Uint8Array): Promise<{ valid: boolean; keyVersion: number | null }> {
    return this.#run(ctx, 'verify-mac', name, async (key, scope) => {
      this.#checkSize('message', message, key.record);
      for (const version of this.#candidates(key, 'verify-mac', null, scope)) {
        const secret = await this.#keyring.secret(this.#store, key.record, version);
        if (verifyMac(key.record.algorithm as 'hmac-sha256' | 'hmac-sha512', secret, message, tag)) {
          scope.keyVersion = version.version;
          scope.details.valid = true;
          return { valid: true, keyVersion: version.version };
        }
      }
      scope.details.valid = false;
      return { valid: false, keyVersion: null };
    });
  }

  publicKey(ctx: CallContext, name: string, versionNumber: number | null): Promise<PublicKeyResponse> {
    return this.#run(ctx, 'public-key', name, async (key, scope) => {
      const version = findVersion(key, versionNumber ?? key.record.primaryVersion);
      scope.keyVersion = version.version;
      assertVersionAllows(key.record, version, 'public-key');
      if (version.publicKey === null)
        throw new KeywardError('invalid_request', `key '${key.record.name}' is symmetric and has no public key`);
      if (key.record.protection === 'hsm') {
        return {
          publicKey: version.publicKey,
          jwk: publicJwkFromPem(key.record.algorithm, version.publicKey) ?? {},
          keyVersion: version.version,
        };
      }
      const secret = await this.#keyring.secret(this.#store, key.record, version);
      return { publicKey: version.publicKey, jwk: publicJwk(key.record.algorithm, secret) ?? {}, keyVersion: version.version };
    });
  }

  /** Loads the key, authorizes, checks usage and key state, then runs `body`. */
  #run<T>(ctx: CallContext, operation: KeyOperation, name: string, body: (key: LoadedKey, scope: Scope) => Promise<T>): Promise<T> {
    return this.#gate.run(ctx, `crypto.${operation}`, async (scope) => {
      scope.key = name;
      const key = await this.#directory.load(ctx.namespace, name);
      scope.keyRecord = key.record;
      scope.authorize(key);
      const usage = NEEDS_USAGE[operation];
      const asymmetricEncrypt = key.record.algorithm.startsWith('rsa-oaep');
      const publicKeyOfEncryptionKey = operation === 'public-key' && asymmetricEncrypt;
      if (key.record.usage !== usage && !publicKeyOfEncryptionKey) {
        throw new KeywardError('invalid_request', `key '${name}' is a ${key.record.algorithm} key and cannot ${operation}`);
      }
      if (operation === 'data-key' && asymmetricEncrypt) {
        // Data keys are envelope keys for symmetric AEADs; RSA-OAEP keys encrypt small secrets directly.
        throw new KeywardError('invalid_request', `key '${name}' is a ${key.record.algorithm} key and cannot issue data keys`);
      }
      if (operation !== 'public-key') assertKeyUsable(key.record);
      return body(key, scope);
    });
  }

  /** The primary version for an operation that produces output, counting the use against the version's limit. */
  async #primary(key: LoadedKey, operation: KeyOperation, scope: Scope, ctx: CallContext): Promise<VersionRecord> {
    return (await this.#originate(key, operation, scope, ctx)).version;
  }

  /**
   * Takes one use of the primary version. The request that finds the version
   * at its use limit rotates the key (trigger `use`) and proceeds with the new
   * version, so no request fails because of the rotation.
   */
  async #originate(
    key: LoadedKey,
    operation: KeyOperation,
    scope: Scope,
    ctx: CallContext,
  ): Promise<{ key: LoadedKey; version: VersionRecord }> {
    let current = key;
    for (let attempt = 0; attempt < 3; attempt++) {
      const version = findVersion(current, current.record.primaryVersion);
      scope.keyVersion = version.version;
      assertVersionAllows(current.record, version, operation);
      if (await this.#uses.take(current.record, version)) {
        scope.use = { keyId: current.record.id, version: version.version };
        return { key: current, version };
      }
      current = await this.#rotateForUse(current, version.version, ctx);
    }
    throw new KeywardError('invalid_state', `key '${key.record.name}' keeps reaching its use limit; try again`);
  }

  /**
   * Rotates a key whose primary version is used up, once per key however many
   * requests find it so. Never held back by the class standards (unlike a
   * manual rotation): a used-up version must be replaced whatever else is
   * wrong with the key, or its use limit would stop protecting it.
   */
  async #rotateForUse(key: LoadedKey, exhausted: number, ctx: CallContext): Promise<LoadedKey> {
    const id = key.record.id;
    let rotation = this.#rotations.get(id);
    if (rotation === undefined) {
      rotation = this.#system
        .apply(
          id,
          async (k, versions, tx, now) => {
            // Another request or node rotated already: nothing to do.
            if (k.primaryVersion !== exhausted || k.state !== 'enabled') return null;
            const outcome = await this.#lifecycle.rotate(tx, k, versions, 'use', now);
            return { action: 'key.rotate', outcome, details: { trigger: 'use', exhaustedVersion: exhausted } };
          },
          ctx.requestId,
        )
        // A concurrent rotation by another node shows up as a conflict on the new version number: reload either way.
        .catch(() => null)
        .finally(() => this.#rotations.delete(id));
      this.#rotations.set(id, rotation);
    }
    await rotation;
    this.#directory.forget(key.record.namespace, key.record.name);
    this.#uses.forgetKey(id);
    return this.#directory.load(key.record.namespace, key.record.name);
  }

  /** The versions to try for verification: the one named, or every version that may still verify, newest first. */
  #candidates(key: LoadedKey, operation: KeyOperation, requested: number | null, scope: Scope): VersionRecord[] {
    const recovery = this.#recovery(key, scope);
    if (requested !== null) {
      const version = findVersion(key, requested);
      scope.keyVersion = requested;
      assertVersionAllows(key.record, version, operation, recovery);
      return [version];
    }
    return key.versions
      .filter(
        (v) =>
          versionAllows(key.record, v, operation) ||
          (recovery && v.state === 'compromised' && v.version >= key.record.minDecryptionVersion),
      )
      .sort((a, b) => b.version - a.version);
  }

  /** May this caller still decrypt and verify with compromised versions (to rescue data)? */
  #recovery(key: LoadedKey, scope: Scope): boolean {
    const hasCompromised = key.versions.some((v) => v.state === 'compromised');
    const recovery = hasCompromised && scope.may('version.recover', key);
    if (recovery) scope.details.recovery = true;
    return recovery;
  }

  async #encryptWithPrimary(
    ctx: CallContext,
    key: LoadedKey,
    scope: Scope,
    plaintext: Uint8Array,
    context: EncryptionContext,
  ): Promise<{ ciphertext: string; keyVersion: number }> {
    const { key: current, version } = await this.#originate(key, 'encrypt', scope, ctx);
    if (current.record.protection === 'hsm') {
      return { ciphertext: this.#hsm.encrypt(current.record, version, plaintext, context), keyVersion: version.version };
    }
    const secret = await this.#keyring.secret(this.#store, current.record, version);
    const header = { keyId: current.record.id, keyVersion: version.version, algorithm: current.record.algorithm as CiphertextAlgorithm };
    return { ciphertext: encryptToCiphertext(header, secret, plaintext, context), keyVersion: version.version };
  }

  async #decrypt(
    key: LoadedKey,
    scope: Scope,
    ciphertext: string,
    context: EncryptionContext,
    operation: KeyOperation,
  ): Promise<Uint8Array> {
    let parsed: ParsedCiphertext;
    try {
      parsed = parseCiphertext(ciphertext);
    } catch {
      throw invalidCiphertext();
    }
    // A ciphertext of another key, or naming a version this key never had, is the same opaque failure.
    const version = key.versions.find((v) => v.version === parsed.keyVersion);
    if (parsed.keyId !== key.record.id || parsed.algorithm !== key.record.algorithm || version === undefined) throw invalidCiphertext();
    scope.keyVersion = version.version;
    assertVersionAllows(key.record, version, operation, version.state === 'compromised' && this.#recovery(key, scope));
    if (key.record.protection === 'hsm') {
      try {
        return this.#hsm.decrypt(key.record, version, parsed, context);
      } catch (error) {
        // The same opaque answer as the software path; a token that is away (sealed, internal) is not the ciphertext's fault.
        if (error instanceof CryptoError) throw invalidCiphertext();
        throw error;
      }
    }
    const secret = await this.#keyring.secret(this.#store, key.record, version);
    try {
      return decryptCiphertext(parsed, secret, context);
    } catch {
      throw invalidCiphertext();
    }
  }

  #checkSize(field: string, value: Uint8Array, key: KeyRecord): void {
    if (value.length > this.#limits.maxPlaintextBytes) {
      throw new KeywardError('payload_too_large', `${field}: larger than the limit of ${this.#limits.maxPlaintextBytes} bytes`);
    }
    if (field === 'plaintext' && key.algorithm.startsWith('rsa-oaep')) {
      const max = maxAsymmetricPlaintext(key.algorithm as 'rsa-oaep-3072' | 'rsa-oaep-4096');
      if (value.length > max) throw new KeywardError('invalid_request', `plaintext: ${key.algorithm} encrypts at most ${max} bytes`);
    }
  }
}
