import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { FileSeal } from '../../src/seal/file/file-seal.js';
import { describeSealConformance } from './seal-conformance.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('file-seal');

async function keyPath(): Promise<string> {
  return join(await tempDir(), 'root.key');
}

async function openError(seal: FileSeal): Promise<KeywardError> {
  const error = await seal.open().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeywardError);
  return error as KeywardError;
}

describeSealConformance('FileSeal', async () => {
  const path = await keyPath();
  const seal = new FileSeal({ path });
  await seal.init();
  return {
    seal,
    reopen: async () => {
      const reopened = new FileSeal({ path });
      await reopened.open();
      return reopened;
    },
  };
});

describe('FileSeal', () => {
  it('init creates a 32-byte file with mode 0600 and leaves the seal unsealed', async () => {
    const path = await keyPath();
    const seal = new FileSeal({ path });
    await seal.init();
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.size).toBe(32);
    expect(seal.status()).toEqual({ kind: 'file', initialized: true, sealed: false, progress: 0, threshold: 0 });
  });

  it('init refuses an existing file with conflict and leaves it untouched', async () => {
    const path = await keyPath();
    await new FileSeal({ path }).init();
    const before = await readFile(path);
    const error = await new FileSeal({ path }).init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe('conflict');
    expect(await readFile(path)).toEqual(before);
  });

  it('a missing file means not initialized and sealed, without an error', async () => {
    const seal = new FileSeal({ path: await keyPath() });
    await seal.open();
    expect(seal.status()).toEqual({ kind: 'file', initialized: false, sealed: true, progress: 0, threshold: 0 });
  });

  it('reports sealed and not initialized before open()', () => {
    const seal = new FileSeal({ path: '/nonexistent/root.key' });
    expect(seal.status()).toMatchObject({ initialized: false, sealed: true });
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o602])('refuses mode %s at open, naming the path and not the content', async (mode) => {
    const path = await keyPath();
    const seal = new FileSeal({ path });
    await seal.init();
    const key = await readFile(path);
    seal.seal();
    await chmod(path, mode);
    const error = await openError(seal);
    expect(error.code).toBe('internal');
    expect(error.message).toContain(path);
    expect(error.message).toContain(mode.toString(8));
    expect(error.message).not.toContain(key.toString('hex'));
    expect(error.message).not.toContain(key.toString('base64'));
    expect(error.message.split('\n')).toHaveLength(1);
    expect(seal.status().sealed).toBe(true);
  });

  it('a failed open() seals an unsealed seal (fail closed)', async () => {
    const path = await keyPath();
    const seal = new FileSeal({ path });
    await seal.init();
    await chmod(path, 0o644);
    await openError(seal);
    expect(seal.status().sealed).toBe(true);
  });

  it.each([0, 31, 33, 64, 65])('refuses a file of %i bytes', async (size) => {
    const path = await keyPath();
    await writeFile(path, new Uint8Array(size).fill(0x41), { mode: 0o600 });
    const error = await openError(new FileSeal({ path }));
    expect(error.code).toBe('internal');
    expect(error.message).toContain(path);
    expect(error.message).toContain('32');
    expect(error.message).not.toContain('AAAA');
  });

  it('refuses a directory at the path', async () => {
    const dir = await tempDir();
    const error = await openError(new FileSeal({ path: dir }));
    expect(error.code).toBe('internal');
    expect(error.message).toContain(dir);
  });

  it('accepts a key file written by hand (32 raw bytes, 0600) and unwraps with it', async () => {
    const path = await keyPath();
    await writeFile(path, new Uint8Array(32).fill(9), { mode: 0o600 });
    const seal = new FileSeal({ path });
    await seal.open();
    expect(seal.status()).toMatchObject({ initialized: true, sealed: false });
    const aad = new TextEncoder().encode('x');
    const wrapped = await seal.wrap(Uint8Array.of(1, 2, 3), aad);
    expect(await seal.unwrap(wrapped, aad)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('open() after seal() unseals the same instance again', async () => {
    const path = await keyPath();
    const seal = new FileSeal({ path });
    await seal.init();
    const aad = new TextEncoder().encode('ns');
    const wrapped = await seal.wrap(Uint8Array.of(5), aad);
    seal.seal();
    await seal.open();
    expect(await seal.unwrap(wrapped, aad)).toEqual(Uint8Array.of(5));
  });

  it('reports the reason when the parent directory does not exist', async () => {
    const path = join(await tempDir(), 'missing', 'root.key');
    const error = await new FileSeal({ path }).init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeywardError);
    expect((error as KeywardError).code).toBe('internal');
    expect((error as KeywardError).message).toContain(path);
  });
});
