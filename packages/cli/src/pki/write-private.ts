import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to `path` with mode 0600, replacing any file there at once
 * (a temporary file created 0600 and renamed), so the content never sits in
 * a file others may read, even when an older file had a looser mode.
 */
export async function writePrivate(path: string, data: string, options: { replace: boolean }): Promise<void> {
  if (!options.replace) {
    await writeFile(path, data, { mode: 0o600, flag: 'wx' });
    return;
  }
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
