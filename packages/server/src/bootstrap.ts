import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FileSeal } from './seal/file/file-seal.js';
import { PKCS11_LABEL_META, REKEY_META } from './seal/rekey/rekey.js';
import type { Seal, SealKind, SealStateStore } from './seal/seal.js';
import { ShamirSeal } from './seal/shamir/shamir-seal.js';
import type { Pkcs11Options } from './server-options.js';
import { newToken } from './service/authenticator.js';
import { bootstrapAdmin } from './service/principal-service.js';
import type { Store } from './store/store.js';

const INITIALIZED = 'initialized';

/**
 * The Shamir seal's non-secret state lives in the database, so every node of
 * a cluster shares it; the first init stores it, and a concurrent one on
 * another node finds it taken (the state carries a random id, so equal
 * means ours).
 */
function storeBackedState(store: Store): SealStateStore {
  return {
    read: () => store.getMeta('seal.shamir'),
    create: async (state) => (await store.claimMeta('seal.shamir', state)) === state,
  };
}

/**
 * Opens the configured seal. The file and PKCS#11 seals initialize a new
 * data directory themselves: the root key (in DATA/root.key, or created in
 * the token) and the first admin token in DATA/admin-token (0600), never
 * printed.
 */
export async function openSeal(
  kind: SealKind,
  store: Store,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  log: Logger,
  pkcs11: Pkcs11Options | null = null,
): Promise<Seal> {
  if ((await store.getMeta(REKEY_META)) !== null) {
    throw new Error(
      'a seal rekey was committed but not finished; run the same keyward operator rekey / migrate-seal command again to finish it',
    );
  }
  if (kind === 'shamir') {
    const seal = new ShamirSeal({ state: storeBackedState(store) });
    await seal.open();
    log.info({ initialized: seal.status().initialized }, 'shamir seal: unseal with a threshold of shares (keyward operator unseal)');
    return seal;
  }
  if (kind === 'pkcs11') {
    if (pkcs11 === null) throw new Error('the pkcs11 seal needs its options');
    // Imported here, so a server on another seal never loads the native PKCS#11 binding.
    const recorded = await store.getMeta(PKCS11_LABEL_META);
    if (recorded !== null && recorded !== pkcs11.keyLabel) {
      throw new Error(`the root key was rekeyed to the label '${recorded}'; start with --pkcs11-key-label ${recorded}`);
    }
    const { openPkcs11Seal } = await import('./seal/pkcs11/open-pkcs11-seal.js');
    const seal = await openPkcs11Seal(pkcs11, env);
    const initialized = (await store.getMeta(INITIALIZED)) === 'true';
    if (!seal.status().initialized) {
      if (initialized) {
        throw new Error(
          `the database is initialized but token '${pkcs11.token}' holds no key labelled '${pkcs11.keyLabel}'; check --pkcs11-token and --pkcs11-key-label, or restore the token`,
        );
      }
      await seal.init();
      log.info({ token: pkcs11.token, keyLabel: pkcs11.keyLabel }, 'pkcs11 seal: created the root key in the token');
    }
    if (!initialized) await bootstrap(store, dataDir, env, log);
    log.info({ token: pkcs11.token, keyLabel: pkcs11.keyLabel }, 'pkcs11 seal: unsealed; the root key stays in the token');
    return seal;
  }
  const seal = new FileSeal({ path: join(dataDir, 'root.key') });
  await seal.open();
  const initialized = (await store.getMeta(INITIALIZED)) === 'true';
  if (!seal.status().initialized) {
    if (initialized) throw new Error(`the database is initialized but ${join(dataDir, 'root.key')} is missing; restore it from backup`);
    await seal.init();
  }
  if (!initialized) await bootstrap(store, dataDir, env, log);
  log.warn(
    'file seal: the root key sits in a 0600 file beside the data; fine for development and single machines, use --seal shamir for production',
  );
  return seal;
}

/** The first admin (KEYWARD_INIT_ADMIN_TOKEN or a new token), its token written to DATA/admin-token with mode 0600. */
async function bootstrap(store: Store, dataDir: string, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  const token = env.KEYWARD_INIT_ADMIN_TOKEN || newToken();
  await store.transaction(async (tx) => {
    await bootstrapAdmin(tx, token, new Date());
    await tx.setMeta(INITIALIZED, 'true');
  });
  const path = join(dataDir, 'admin-token');
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  log.info({ path }, 'initialized: the first admin token is in the admin-token file');
}
