import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { SealStateStore } from '../../src/seal/seal.js';

/** A {@link SealStateStore} on a real file, for tests: atomic replace via a temporary file and rename. */
export class FileStateStore implements SealStateStore {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async read(): Promise<string | null> {
    try {
      return await readFile(this.#path, 'utf8');
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(state: string): Promise<void> {
    const temporary = `${this.#path}.${randomUUID()}.tmp`;
    await writeFile(temporary, state, { mode: 0o600, flush: true });
    await rename(temporary, this.#path);
  }
}
