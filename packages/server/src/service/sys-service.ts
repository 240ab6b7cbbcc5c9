import type { Health, InitResponse, UnsealResponse } from '@keyward/wire';
import { KeywardError } from '@keyward/wire';
import type { AuditSecrets } from '../audit/audit-secrets.js';
import { isShareSeal, type Seal, type SealStatus } from '../seal/seal.js';
import type { Store } from '../store/store.js';
import type { AttestationKey } from './attestation-key.js';
import { type Authenticator, newToken } from './authenticator.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { bootstrapAdmin } from './principal-service.js';

/**
 * The other worker processes of this server (`keyward server --workers N`,
 * `cluster/`): each holds its own copy of the seal, and all must agree. Each
 * method resolves once every other worker has applied the step, so a health
 * check on any worker after the answer agrees with it.
 */
export interface SealPeers {
  /** Before a Shamir init: false when another worker is initializing or has initialized. */
  claimInit(): Promise<boolean>;
  /** The init that claimed failed: another worker may try. */
  releaseInit(): Promise<void>;
  /** After a Shamir init: the others load the new state and unseal with `shares` (a threshold of them). */
  initialized(shares: readonly string[]): Promise<void>;
  /** After a share changed this worker's seal (`status`: progress, unsealed, or reset by a wrong share): the others take it too. */
  shareSubmitted(share: string, status: SealStatus): Promise<void>;
  /** After this worker sealed: the others seal. */
  sealed(): Promise<void>;
}

/** Health, initialization, unsealing and sealing. */
export class SysService {
  readonly #gate: Gate;
  readonly #seal: Seal;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #directory: KeyDirectory;
  readonly #authenticator: Authenticator;
  readonly #auditSecrets: AuditSecrets;
  readonly #attestationKey: AttestationKey;
  readonly #version: string;
  readonly #peers: SealPeers | null;

  constructor(deps: {
    gate: Gate;
    seal: Seal;
    store: Store;
    keyring: Keyring;
    directory: KeyDirectory;
    authenticator: Authenticator;
    auditSecrets: AuditSecrets;
    attestationKey: AttestationKey;
    version: string;
    peers?: SealPeers | null;
  }) {
    this.#auditSecrets = deps.auditSecrets;
    this.#attestationKey = deps.attestationKey;
    this.#gate = deps.gate;
    this.#seal = deps.seal;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#directory = deps.directory;
    this.#authenticator = deps.authenticator;
    this.#version = deps.version;
    this.#peers = deps.peers ?? null;
  }

  health(): Health {
    const status = this.#seal.status();
    return { initialized: status.initialized, sealed: status.sealed, version: this.#version, seal: status.kind };
  }

  /** Shamir only: creates the root key, returns the shares and the first admin token, once. */
  init(ctx: CallContext, params: { shares: number; threshold: number }): Promise<InitResponse> {
    return this.#gate.run(
      ctx,
      'sys.init',
      async (scope) => {
        const seal = this.#seal;
        if (seal.status().initialized) throw new KeywardError('conflict', 'Keyward is already initialized');
        if (!isShareSeal(seal)) throw new KeywardError('conflict', `the ${seal.kind} seal initializes itself at start`);
        scope.details.shares = params.shares;
        scope.details.threshold = params.threshold;
        if (this.#peers !== null && !(await this.#peers.claimInit())) {
          throw new KeywardError('conflict', 'Keyward is already initialized (by another worker)');
        }
        let unsealShares: string[];
        const adminToken = newToken();
        try {
          unsealShares = await seal.init(params);
          await this.#store.transaction(async (tx) => {
            await bootstrapAdmin(tx, adminToken, scope.now);
            await scope.recordIn(tx);
          });
        } catch (error) {
          await this.#peers?.releaseInit();
          throw error;
        }
        await this.#peers?.initialized(unsealShares.slice(0, seal.status().threshold));
        await this.#auditSecrets.load();
        return { unsealShares, adminToken };
      },
      { allowSealed: true, anonymous: true },
    );
  }

  unseal(ctx: CallContext, share: string): Promise<UnsealResponse> {
    return this.#gate.run(
      ctx,
      'sys.unseal',
      async (scope) => {
        const seal = this.#seal;
        if (!isShareSeal(seal)) {
          throw new KeywardError(
            'invalid_request',
            `share: this server uses the ${seal.kind} seal, which has no shares; restart it to unseal`,
          );
        }
        // Another node on the same database may have initialized it since this one started: read the state again.
        if (!seal.status().initialized) await seal.open();
        if (!seal.status().initialized) throw new KeywardError('invalid_state', 'Keyward is not initialized; call /v1/sys/init first');
        const before = seal.status();
        let status: SealStatus;
        try {
          status = await seal.submitShare(share);
        } finally {
          const after = seal.status();
          if (after.sealed !== before.sealed || after.progress !== before.progress) await this.#peers?.shareSubmitted(share, after);
        }
        scope.details.progress = status.progress;
        scope.details.sealed = status.sealed;
        if (!status.sealed) await this.#auditSecrets.load();
        return { sealed: status.sealed, progress: status.progress, threshold: status.threshold };
      },
      { allowSealed: true, anonymous: true },
    );
  }

  /** Seals: the root key, KEKs and cached material are zeroed; every operation answers 503 until unsealed. */
  seal(ctx: CallContext): Promise<void> {
    return this.#gate.run(ctx, 'sys.seal', async (scope) => {
      scope.authorize();
      this.sealLocally();
      await this.#peers?.sealed();
    });
  }

  /** Seals this process only (the other workers relay a seal here): no request, no audit record of its own. */
  sealLocally(): void {
    this.#seal.seal();
    this.#keyring.clear();
    this.#auditSecrets.forget();
    this.#attestationKey.forget();
    this.#directory.clear();
    this.#authenticator.clear();
  }
}
