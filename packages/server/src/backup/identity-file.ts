import { readFile } from 'node:fs/promises';

/** An identity file is unreadable or not an age identity file. The message names the path, never the content. */
export class IdentityFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentityFileError';
  }
}

/**
 * The identities of an age identity file: its non-comment lines, each
 * `AGE-SECRET-KEY-…`. The content never appears in a message.
 *
 * @example
 * const identities = await readIdentityFile('custodian.txt'); // ['AGE-SECRET-KEY-1…']
 */
export async function readIdentityFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new IdentityFileError(`--identity: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (identities.length === 0 || !identities.every((line) => line.startsWith('AGE-SECRET-KEY-'))) {
    throw new IdentityFileError(`--identity: ${path} is not an age identity file (AGE-SECRET-KEY-… lines)`);
  }
  return identities;
}
