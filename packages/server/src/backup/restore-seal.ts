import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSeal } from '../seal/file/file-seal.js';
import { PKCS11_LABEL_META } from '../seal/rekey/rekey.js';
import type { Seal } from '../seal/seal.js';
import { newDetachedShamirSeal } from '../seal/shamir/detached-shamir.js';
import type { TableRow } from '../store/table-copy.js';

/** Which new seal a restored store gets. */
export type RestoreSealOptions =
  | { kind: 'file'; dataDir: string }
  | { kind: 'shamir'; shares: number; threshold: number }
  | { kind: 'pkcs11'; library: string; token: string; keyLabel: string; readPin: () => Promise<string> };

/**
 * A new, initialized and unsealed seal for a restore target. The restore
 * wraps every KEK and root-wrapped secret under it, then stores
 * {@link RestoreSeal.metaRows} with the data and calls
 * {@link RestoreSeal.commit} once the data committed (or
 * {@link RestoreSeal.abort} when it did not).
 */
export interface RestoreSeal {
  readonly seal: Seal;
  /** Seal state that lives in the database (Shamir), written in the restore's transaction. */
  metaRows(): TableRow[];
  /** Unseal shares to hand to the custodians (Shamir), shown once; null for other kinds. */
  readonly shares: string[] | null;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Initializes the target's new seal. The seam for a new kind (PKCS#11: a
 * new wrapping key in the token) is one more case here.
 *
 * - `file`: a new root key in a temporary 0600 file in the data directory,
 *   renamed to `root.key` only once the restored data committed.
 * - `shamir`: a new root key split into shares; its state row goes into the
 *   restored database with the data.
 * - `pkcs11`: a new AES-256 key generated in the token under `keyLabel`
 *   (refused when the token already holds one: a restore never reuses a key);
 *   the label is recorded in `meta` with the data, and the key is destroyed
 *   again when the restore does not commit.
 */
export async function newRestoreSeal(options: RestoreSealOptions): Promise<RestoreSeal> {
  switch (options.kind) {
    case 'file': {
      const finalPath = join(options.dataDir, 'root.key');
      const temp = join(options.dataDir, `.root.key.${randomBytes(6).toString('hex')}.restoring`);
      const seal = new FileSeal({ path: temp });
      await seal.init();
      return {
        seal,
        shares: null,
        metaRows: () => [],
        commit: () => rename(temp, finalPath),
        abort: async () => {
          seal.seal();
          await rm(temp, { force: true });
        },
      };
    }
    case 'shamir': {
      const { seal, shares, state } = await newDetachedShamirSeal(options.shares, options.threshold);
      return {
        seal,
        shares,
        metaRows: () => {
          const value = state();
          return value === null ? [] : [{ name: 'seal.shamir', value }];
        },
        commit: async () => seal.seal(),
        abort: async () => seal.seal(),
      };
    }
    case 'pkcs11': {
      // Imported here, so a restore to another seal never loads the native PKCS#11 binding.
      const { Pkcs11Seal } = await import('../seal/pkcs11/pkcs11-seal.js');
      const seal = new Pkcs11Seal({ library: options.library, token: options.token, keyLabel: options.keyLabel, readPin: options.readPin });
      await seal.init();
      return {
        seal,
        shares: null,
        metaRows: () => [{ name: PKCS11_LABEL_META, value: options.keyLabel }],
        commit: async () => seal.seal(),
        abort: () => seal.destroy(),
      };
    }
  }
}
