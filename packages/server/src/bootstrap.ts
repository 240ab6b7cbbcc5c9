import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FileSeal } from './seal/file/file-seal.js';
import type { Seal, SealStateStore } from './seal/seal.js';
import { ShamirSeal } from './seal/shamir/shamir-seal.js';
import { newToken } from './service/authenticator.js';
import { bootstrapAdmin } from './service/principal-service.js';
import type { Store } from './store/store.js';

const INITIALIZED = 'initialized';

/** The Shamir seal's non-secret state lives in the database, so every node of a cluster shares it. */
function storeBackedState(store: Store): SealStateStore {
  return { read: () => store.getMeta('seal.shamir'), write: (state) => store.setMeta('seal.shamir', state) };
}

/**
 * Opens the configured seal. The file seal initializes a new data directory
 * itself: root key in DATA/root.key and the first admin token in
 * DATA/admin-token (both 0600), never printed.
 */
export async function openSeal(kind: 'file' | 'shamir', store: Store, dataDir: string, env: NodeJS.ProcessEnv, log: Logger): Promise<Seal> {
  if (kind === 'shamir') {
    const seal = new ShamirSeal({ state: storeBackedState(store) });
    await seal.open();
    log.info({ initialized: seal.status().initialized }, 'shamir seal: unseal with a threshold of shares (keyward operator unseal)');
    return seal;
  }
  const seal = new FileSeal({ path: join(dataDir, 'root.key') });
  await seal.open();
  const initialized = (await store.getMeta(INITIALIZED)) === 'true';
  if (!seal.status().initialized) {
    if (initialized) throw new Error(`the database is initialized but ${join(dataDir, 'root.key')} is missing; restore it from backup`);
    await seal.init();
  }
  if (!initialized) {
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
  log.warn(
    'file seal: the root key sits in a 0600 file beside the data; fine for development and single machines, use --seal shamir for production',
  );
  return seal;
}
