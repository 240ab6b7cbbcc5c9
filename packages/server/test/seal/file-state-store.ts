import { randomUUID } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { SealStateStore } from '../../src/seal/seal.js';

/** A {@link SealStateStore} on a real file, for tests: the state is written to a temporary file, then linked into place only if none is there. */
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

  /** Replaces the file whatever it holds: a test playing someone with write access to the state. */
  async overwrite(state: string): Promise<void> {
    await rename(await this.#written(state), this.#path);
  }

  async create(state: string): Promise<boolean> {
    const temporary = await this.#written(state);
    try {
      await link(temporary, this.#path);
      return true;
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === 'EEXIST') return false;
      throw error;
    } finally {
      await unlink(temporary);
    }
  }

  /** `state` in a new temporary file beside the state file, flushed to disk; its path. */
  async #written(state: string): Promise<string> {
    const temporary = `${this.#path}.${randomUUID()}.tmp`;
    await writeFile(temporary, state, { mode: 0o600, flush: true });
    return temporary;
  }
}
