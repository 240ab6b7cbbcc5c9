import type { Pkcs11Options } from '../../server-options.js';
import { readPkcs11Pin } from './pkcs11-pin.js';
import { Pkcs11Seal } from './pkcs11-seal.js';

/**
 * The PKCS#11 seal as the server configures it (`--pkcs11-…` flags), opened:
 * unsealed when the token holds the key, uninitialized otherwise. The PIN is
 * read from `--pkcs11-pin-file` or KEYWARD_PKCS11_PIN each time the seal logs in.
 *
 * @example
 * const seal = await openPkcs11Seal(options.pkcs11, process.env);
 */
export async function openPkcs11Seal(options: Pkcs11Options, env: NodeJS.ProcessEnv): Promise<Pkcs11Seal> {
  const pinFile = options.pinFile;
  const seal = new Pkcs11Seal({
    library: options.library,
    token: options.token,
    keyLabel: options.keyLabel,
    readPin: () => readPkcs11Pin(pinFile === null ? { env } : { file: pinFile }),
  });
  await seal.open();
  return seal;
}
