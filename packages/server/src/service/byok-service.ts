import { createHash, createPrivateKey, generateKeyPair, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { CryptoError, getAlgorithm, parseRecipientKey, type RecipientKey, unwrapImported, wrapForRecipient } from '@keyward/crypto';
import {
  type ExportedKey,
  type ExportKeyRequest,
  type ImportParameters,
  type ImportWrappingAlgorithm,
  type KeyView,
  KeywardError,
  type PendingApproval,
} from '@keyward/wire';
import { addMs } from '../keys/duration.js';
import { wrappingKeyAad } from '../keys/material-aad.js';
import { assertMeetsClass } from '../policy/class-standards.js';
import type { PolicySource } from '../policy/policy-file.js';
import { zero } from '../seal/zero.js';
import type { WrappingKeyRecord } from '../store/byok-records.js';
import type { KeyRecord, VersionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { holdForApproval } from './approvals.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { type Lifecycle, writeOutcome } from './lifecycle.js';
import type { CommittedListener } from './system-actions.js';
import type { UseLimiter } from './use-limiter.js';
import { keyView } from './views.js';

const generateRsa = promisify(generateKeyPair);

/** An import token is accepted for 24 hours after it was issued (docs/transit.md). */
export const IMPORT_TOKEN_TTL_MS = 24 * 3_600_000;
/** Default: a new wrapping key pair per namespace every 7 days. */
export const DEFAULT_WRAPPING_KEY_ROTATION_MS = 7 * 24 * 3_600_000;
/** The RSA modulus of wrapping key pairs. */
const WRAPPING_KEY_BITS = 4096;
/** Import tokens: `kwi_` + 32 random bytes, base64url. Stored only as SHA-256. */
const TOKEN_PREFIX = 'kwi_';

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** `sha256:` + hex SHA-256 of a SubjectPublicKeyInfo DER (as `openssl pkey -pubin -outform DER | sha256sum`). */
export const spkiFingerprint = (spki: Uint8Array): string => `sha256:${createHash('sha256').update(spki).digest('hex')}`;

/**
 * BYOK import and wrapped export (docs/transit.md). Import: a namespace's
 * RSA-4096 wrapping key pair (generated on first use, rotated on a
 * schedule, the private half wrapped under the namespace KEK) receives
 * material wrapped by the operator; a single-use token stored as a hash
 * binds each import to a key, a wrapping algorithm and a pair. Export: a
 * version's material leaves only wrapped for a recipient public key, only
 * from exportable keys of classes that allow it, and after the class's
 * quorum (`quorum.export`).
 */
export class ByokService {
  readonly #gate: Gate;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #directory: KeyDirectory;
  readonly #lifecycle: Lifecycle;
  readonly #uses: UseLimiter;
  readonly #policy: PolicySource;
  readonly #committed: CommittedListener;
  readonly #rotationMs: number;
  /** One generation per namespace at a time on this node (RSA-4096 takes a while). */
  readonly #generating = new Map<string, Promise<WrappingKeyRecord>>();

  constructor(deps: {
    gate: Gate;
    store: Store;
    keyring: Keyring;
    directory: KeyDirectory;
    lifecycle: Lifecycle;
    uses: UseLimiter;
    policy: PolicySource;
    onCommitted?: CommittedListener;
    /** How long a wrapping key pair issues tokens before a new one replaces it. */
    wrappingKeyRotationMs?: number;
  }) {
    this.#gate = deps.gate;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#directory = deps.directory;
    this.#lifecycle = deps.lifecycle;
    this.#uses = deps.uses;
    this.#policy = deps.policy;
    this.#committed = deps.onCommitted ?? (() => {});
    this.#rotationMs = deps.wrappingKeyRotationMs ?? DEFAULT_WRAPPING_KEY_ROTATION_MS;
  }

  /** `GET /v1/keys/{name}/import-parameters`: the wrapping public key and a fresh import token. */
  importParameters(ctx: CallContext, name: string, algorithm: ImportWrappingAlgorithm): Promise<ImportParameters> {
    return this.#gate.run(ctx, 'version.import', async (scope) => {
      scope.key = name;
      const loaded = await this.#directory.load(ctx.namespace, name);
      scope.authorize(loaded);
      assertImportable(loaded.record);
      scope.details.algorithm = algorithm;
      const pair = await this.#currentPair(ctx.namespace, scope.now);
      const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const expiresAt = new Date(Math.min(addMs(scope.now, IMPORT_TOKEN_TTL_MS).getTime(), Date.parse(pair.expiresAt))).toISOString();
      scope.details.wrappingKey = pair.id;
      scope.details.expiresAt = expiresAt;
      await this.#store.transaction(async (tx) => {
        await tx.insertImportToken({
          tokenHash: hashToken(token),
          namespace: ctx.namespace,
          keyId: loaded.record.id,
          algorithm,
          wrappingKeyId: pair.id,
          createdAt: scope.now.toISOString(),
          expiresAt,
          usedAt: null,
        });
        await scope.recordIn(tx);
      });
      return { publicKey: pair.publicKey, importToken: token, expiresAt, algorithm };
    });
  }

  /** `POST /v1/keys/{name}/import`: the unwrapped material becomes the new primary version, origin `imported`. */
  importKey(
    ctx: CallContext,
    name: string,
    req: { importToken: string; wrappedKey: Uint8Array; algorithm: ImportWrappingAlgorithm },
  ): Promise<KeyView> {
    return this.#gate.run(ctx, 'version.import', async (scope) => {
      scope.key = name;
      const loaded = await this.#directory.load(ctx.namespace, name);
      scope.authorize(loaded);
      assertImportable(loaded.record);
      scope.details.algorithm = req.algorithm;
      const tokenHash = hashToken(req.importToken);
      const token = await this.#store.getImportToken(tokenHash);
      if (token === null || token.namespace !== ctx.namespace || token.keyId !== loaded.record.id) {
        throw new KeywardError('invalid_request', `importToken: not an import token issued for key '${name}'`);
      }
      if (token.usedAt !== null) throw new KeywardError('invalid_request', 'importToken: already used; ask for new import parameters');
      if (token.expiresAt <= scope.now.toISOString()) {
        throw new KeywardError('invalid_request', `importToken: expired at ${token.expiresAt}; ask for new import parameters`);
      }
      if (token.algorithm !== req.algorithm) {
        throw new KeywardError('invalid_request', `algorithm: the import token was issued for ${token.algorithm}`);
      }
      const pair = await this.#store.getWrappingKey(token.wrappingKeyId);
      if (pair === null || pair.expiresAt <= scope.now.toISOString()) {
        throw new KeywardError('invalid_request', 'importToken: its wrapping key pair has expired; ask for new import parameters');
      }
      scope.details.wrappingKey = pair.id;
      const secret = await this.#unwrap(pair, req.algorithm, req.wrappedKey);
      try {
        const expected = getAlgorithm(loaded.record.algorithm).secretBytes;
        if (secret.length !== expected) {
          throw new KeywardError(
            'invalid_request',
            `wrappedKey: the unwrapped key is ${secret.length} bytes; ${loaded.record.algorithm} needs ${expected}`,
          );
        }
        const result = await this.#store.transaction(async (tx) => {
          const key = await tx.lockKey(ctx.namespace, name);
          if (key === null || key.id !== loaded.record.id) {
            throw new KeywardError('not_found', `key '${name}' does not exist in namespace '${ctx.namespace}'`);
          }
          assertImportable(key);
          assertMeetsClass(this.#policy.current(), key);
          // The token is spent in the import's own transaction: a failed import leaves it usable.
          if (!(await tx.useImportToken(tokenHash, scope.now.toISOString()))) {
            throw new KeywardError('invalid_request', 'importToken: already used; ask for new import parameters');
          }
          const outcome = await this.#lifecycle.importVersion(tx, key, await tx.getVersions(key.id), secret, scope.now);
          const created = outcome.created[0];
          scope.keyVersion = created?.version ?? null;
          if (created !== undefined) scope.details.fingerprint = created.fingerprint;
          const written = await writeOutcome(tx, outcome, scope.now);
          await scope.recordIn(tx);
          return { key: written, versions: await tx.getVersions(key.id), events: outcome.events };
        });
        this.#committed(result.events);
        this.#directory.forget(ctx.namespace, name);
        this.#keyring.forgetKey(result.key.id);
        this.#uses.forgetKey(result.key.id);
        return keyView(result.key, this.#policy.current(), result.versions);
      } finally {
        zero(secret);
      }
    });
  }

  /**
   * `POST /v1/keys/{name}/versions/{n}/export`: the version's material
   * wrapped for the recipient, or a pending approval when the class asks for
   * a quorum. The audit record names the recipient key's fingerprint.
   */
  exportVersion(ctx: CallContext, name: string, n: number, req: ExportKeyRequest): Promise<ExportedKey | PendingApproval> {
    return this.#gate.run(ctx, 'version.export', async (scope) => {
      scope.key = name;
      scope.keyVersion = n;
      const loaded = await this.#directory.load(ctx.namespace, name);
      scope.authorize(loaded);
      let recipient: RecipientKey;
      try {
        recipient = parseRecipientKey(req.algorithm, req.publicKey);
      } catch (error) {
        if (error instanceof CryptoError) throw new KeywardError('invalid_request', `publicKey: ${error.message} for ${req.algorithm}`);
        throw error;
      }
      const recipientFingerprint = spkiFingerprint(recipient.spki);
      scope.details.algorithm = req.algorithm;
      scope.details.recipientFingerprint = recipientFingerprint;
      return this.#store.transaction(async (tx) => {
        const key = await tx.lockKey(ctx.namespace, name);
        if (key === null) throw new KeywardError('not_found', `key '${name}' does not exist in namespace '${ctx.namespace}'`);
        const version = (await tx.getVersions(key.id)).find((v) => v.version === n);
        if (version === undefined) throw new KeywardError('not_found', `key '${name}' has no version ${n}`);
        this.#assertExportable(key, version);
        const pending = await holdForApproval(
          tx,
          scope,
          this.#policy,
          key,
          {
            rule: 'export',
            operation: { type: 'export', version: n, algorithm: req.algorithm, publicKey: req.publicKey, recipientFingerprint },
          },
          null,
        );
        if (pending !== null) {
          await scope.recordIn(tx);
          return pending;
        }
        const secret = await this.#keyring.secret(tx, key, version);
        const wrapped = wrapForRecipient(recipient, secret);
        await scope.recordIn(tx);
        return {
          keyVersion: n,
          algorithm: req.algorithm,
          keyAlgorithm: key.algorithm,
          wrappedKey: Buffer.from(wrapped).toString('base64'),
          recipientFingerprint,
        };
      });
    });
  }

  /** docs/transit.md, "Wrapped export": what may leave, and what never does. */
  #assertExportable(key: KeyRecord, version: VersionRecord): void {
    if (!key.exportable) {
      throw new KeywardError('forbidden', `key '${key.name}' was not created exportable; its material never leaves Keyward`);
    }
    if (!this.#policy.current().classes[key.class].exportable) {
      throw new KeywardError('policy_violation', `classes.${key.class}.exportable: class ${key.class} does not allow export`);
    }
    if (key.protection === 'hsm') {
      throw new KeywardError('invalid_state', `key '${key.name}' is held in the HSM and its material cannot be exported`);
    }
    if (key.state !== 'enabled' && key.state !== 'disabled') {
      throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot be exported`);
    }
    if (version.state !== 'pre_active' && version.state !== 'active' && version.state !== 'deactivated') {
      throw new KeywardError('invalid_state', `key version ${version.version} of '${key.name}' is ${version.state} and cannot be exported`);
    }
  }

  async #unwrap(pair: WrappingKeyRecord, algorithm: ImportWrappingAlgorithm, blob: Uint8Array): Promise<Uint8Array> {
    const der = await this.#keyring.unwrapUnderKek(
      this.#store,
      pair.namespace,
      pair.kekVersion,
      wrappingKeyAad(pair.namespace, pair.id),
      pair.privateKey,
    );
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' });
    } finally {
      zero(der);
    }
    try {
      return unwrapImported(algorithm, privateKey, blob);
    } catch (error) {
      // One answer for every failure (wrong pair, tampered blob, wrong algorithm): no oracle.
      if (error instanceof CryptoError) {
        throw new KeywardError('invalid_request', 'wrappedKey: does not unwrap with the wrapping key of this import token and algorithm');
      }
      throw error;
    }
  }

  /** The namespace's current wrapping key pair; a new one when there is none or it is due to rotate. */
  async #currentPair(namespace: string, now: Date): Promise<WrappingKeyRecord> {
    const current = await this.#store.currentWrappingKey(namespace, now.toISOString());
    if (current !== null) return current;
    let generating = this.#generating.get(namespace);
    if (generating === undefined) {
      generating = this.#generate(namespace, now).finally(() => this.#generating.delete(namespace));
      this.#generating.set(namespace, generating);
    }
    return generating;
  }

  async #generate(namespace: string, now: Date): Promise<WrappingKeyRecord> {
    const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: WRAPPING_KEY_BITS, publicExponent: 0x10001 });
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    const id = randomUUID();
    const rotateAt = addMs(now, this.#rotationMs);
    try {
      return await this.#store.transaction(async (tx) => {
        const { wrapped, kekVersion } = await this.#keyring.wrapUnderKek(tx, namespace, wrappingKeyAad(namespace, id), der, now);
        const record: WrappingKeyRecord = {
          id,
          namespace,
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          privateKey: wrapped,
          kekVersion,
          createdAt: now.toISOString(),
          rotateAt: rotateAt.toISOString(),
          // Tokens issued just before the rotation stay usable for their whole lifetime.
          expiresAt: addMs(rotateAt, IMPORT_TOKEN_TTL_MS).toISOString(),
        };
        // Expired pairs and tokens go when a new pair comes: their private halves are of no further use.
        await tx.pruneImportMaterial(now.toISOString());
        await tx.insertWrappingKey(record);
        return record;
      });
    } finally {
      zero(der);
    }
  }
}

/** Import brings symmetric material only (encryption and MAC keys), into software keys that can take a new version. */
function assertImportable(key: KeyRecord): void {
  if (getAlgorithm(key.algorithm).secretBytes === null) {
    throw new KeywardError(
      'invalid_request',
      `algorithm: key '${key.name}' is ${key.algorithm}; only symmetric encryption and HMAC keys can import material`,
    );
  }
  if (key.protection === 'hsm') {
    throw new KeywardError('invalid_state', `key '${key.name}' is held in the HSM; material cannot be imported into it`);
  }
  if (key.state !== 'enabled' && key.state !== 'disabled') {
    throw new KeywardError('invalid_state', `key '${key.name}' is ${key.state} and cannot take imported material`);
  }
}
