import { open } from 'node:fs/promises';
import { KeywardError } from '@keyward/wire';

/** Where the user PIN comes from: a file (`--pkcs11-pin-file`) or the environment (`KEYWARD_PKCS11_PIN`); never argv. */
export type Pkcs11PinSource = { readonly file: string } | { readonly env: NodeJS.ProcessEnv };

/** The environment variable that may carry the PIN. */
export const PIN_ENV = 'KEYWARD_PKCS11_PIN';

/** Longest PIN accepted; PKCS#11 tokens allow far less, this only bounds what is read. */
const MAX_PIN_BYTES = 256;

/** Permission bits for group and others: a PIN file must have none, like an ssh private key. */
const GROUP_OTHER_BITS = 0o077;

/**
 * Reads the PIN. A file must be a regular file without group or other
 * access (checked on the opened descriptor); one trailing newline is
 * dropped. Errors are `KeywardError('internal')` on one line naming the file
 * or the variable, never the content.
 *
 * @example
 * const pin = await readPkcs11Pin({ file: '/etc/keyward/pkcs11.pin' });
 */
export async function readPkcs11Pin(source: Pkcs11PinSource): Promise<string> {
  if ('env' in source) return checked(source.env[PIN_ENV] ?? '', PIN_ENV);
  const path = source.file;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw refuse(path, `cannot be opened (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refuse(path, 'is not a regular file');
    if ((info.mode & GROUP_OTHER_BITS) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw refuse(path, `has mode ${mode}; it must not be accessible to group or others (chmod 600)`);
    }
    if (info.size > MAX_PIN_BYTES + 2) throw refuse(path, `is longer than ${MAX_PIN_BYTES} bytes`);
    const text = await handle.readFile('utf8');
    return checked(text.replace(/\r?\n$/, ''), `PIN file ${path}`);
  } finally {
    await handle.close();
  }
}

function checked(pin: string, where: string): string {
  if (pin.length === 0) throw new KeywardError('internal', `${where} holds no PKCS#11 PIN`);
  if (/[\r\n\0]/.test(pin)) throw new KeywardError('internal', `${where} must hold the PIN on one line`);
  if (Buffer.byteLength(pin) > MAX_PIN_BYTES) throw new KeywardError('internal', `${where} holds more than ${MAX_PIN_BYTES} bytes`);
  return pin;
}

function refuse(path: string, reason: string): KeywardError {
  return new KeywardError('internal', `PIN file ${path} ${reason}`);
}
