import { open, unlink } from 'node:fs/promises';
import { randomBytes } from '@keyward/crypto';
import { KeywardError } from '@keyward/wire';
import { ROOT_KEY_BYTES } from '../root-key.js';
import { zero } from '../zero.js';

/**
 * The key file holds the root key as exactly 32 raw bytes — no encoding, no
 * newline — so `openssl rand 32 > keyfile` makes a valid one and a text
 * rendering (hex, base64) is refused for its size instead of being misread.
 */

/** Permission bits for group and others; any of them set means another user may read or replace the key. */
const GROUP_OTHER_BITS = 0o077;

/**
 * Reads the root key from `path`. Resolves `null` when the file does not
 * exist. Throws `KeywardError('internal')` with a one-line reason naming the
 * path (never the content) when the file is not a regular file, is
 * accessible to group or others, or is not exactly 32 bytes. The checks run
 * on the opened descriptor (fstat), so the file checked is the file read.
 */
export async function readKeyFile(path: string): Promise<Uint8Array | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw refuse(path, `cannot be opened (${errorCode(error) ?? 'unknown error'})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refuse(path, 'is not a regular file');
    if ((info.mode & GROUP_OTHER_BITS) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw refuse(path, `has mode ${mode}; it must not be accessible to group or others (chmod 600)`);
    }
    if (info.size !== ROOT_KEY_BYTES) throw refuse(path, `must hold exactly ${ROOT_KEY_BYTES} raw bytes`);
    // Read one byte more than expected, to notice a file that grew after fstat.
    const buffer = new Uint8Array(ROOT_KEY_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead !== ROOT_KEY_BYTES) {
      zero(buffer);
      throw refuse(path, `must hold exactly ${ROOT_KEY_BYTES} raw bytes`);
    }
    const key = buffer.slice(0, ROOT_KEY_BYTES);
    zero(buffer);
    return key;
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` exclusively (`wx`) with mode 0600, writes a fresh 32-byte
 * root key, syncs it to disk and returns the key. Throws
 * `KeywardError('conflict')` when the file exists; on any other failure the
 * partial file is removed, so a retry starts clean.
 */
export async function createKeyFile(path: string): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') {
      throw new KeywardError('conflict', `root key file ${path} already exists; the file seal is already initialized`);
    }
    throw refuse(path, `cannot be created (${errorCode(error) ?? 'unknown error'})`);
  }
  const key = randomBytes(ROOT_KEY_BYTES);
  try {
    await handle.writeFile(key);
    await handle.sync();
    await handle.close();
  } catch (error) {
    zero(key);
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw refuse(path, `cannot be written (${errorCode(error) ?? 'unknown error'})`);
  }
  return key;
}

function refuse(path: string, reason: string): KeywardError {
  return new KeywardError('internal', `root key file ${path} ${reason}`);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}
