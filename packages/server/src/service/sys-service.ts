import type { Health, InitResponse, UnsealResponse } from '@keyward/wire';
import { KeywardError } from '@keyward/wire';
import { isShareSeal, type Seal } from '../seal/seal.js';
import type { Store } from '../store/store.js';
import { type Authenticator, newToken } from './authenticator.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';
import type { KeyDirectory } from './key-directory.js';
import type { Keyring } from './keyring.js';
import { bootstrapAdmin } from './principal-service.js';

/** Health, initialization, unsealing and sealing. */
export class SysService {
  readonly #gate: Gate;
  readonly #seal: Seal;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #directory: KeyDirectory;
  readonly #authenticator: Authenticator;
  readonly #version: string;

  constructor(deps: {
    gate: Gate;
    seal: Seal;
    store: Store;
    keyring: Keyring;
    directory: KeyDirectory;
    authenticator: Authenticator;
    version: string;
  }) {
    this.#gate = deps.gate;
    this.#seal = deps.seal;
    this.#store = deps.store;
    this.#keyring = deps.keyring;
    this.#directory = deps.directory;
    this.#authenticator = deps.authenticator;
    this.#version = deps.version;
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
        const unsealShares = await seal.init(params);
        const adminToken = newToken();
        await this.#store.transaction(async (tx) => {
          await bootstrapAdmin(tx, adminToken, scope.now);
          await scope.recordIn(tx);
        });
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
        if (!seal.status().initialized) throw new KeywardError('invalid_state', 'Keyward is not initialized; call /v1/sys/init first');
        const status = await seal.submitShare(share);
        scope.details.progress = status.progress;
        scope.details.sealed = status.sealed;
        return { sealed: status.sealed, progress: status.progress, threshold: status.threshold };
      },
      { allowSealed: true, anonymous: true },
    );
  }

  /** Seals: the root key, KEKs and cached material are zeroed; every operation answers 503 until unsealed. */
  seal(ctx: CallContext): Promise<void> {
    return this.#gate.run(ctx, 'sys.seal', async (scope) => {
      scope.authorize();
      this.#seal.seal();
      this.#keyring.clear();
      this.#directory.clear();
      this.#authenticator.clear();
    });
  }
}
