import { stat } from 'node:fs/promises';
import { identityToRecipient } from 'age-encryption';
import type { BackupsPolicy } from '../policy/policy.js';
import { IdentityFileError, readIdentityFile } from './identity-file.js';

const FIELD = 'backups.verify.identityFile';

/** The verification identity file is unfit. The message names the field and the path, never the content. */
export class VerifyIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyIdentityError';
  }
}

/**
 * The identities of the policy's verification identity file
 * (`backups.verify.identityFile`), or null when the policy asks for no full
 * verification. Checked at every use, not only when the policy loads: the
 * file must be a regular file readable by its owner only (no group or other
 * permission bits), an age identity file, and hold the identity of one of
 * `backups.recipients` — otherwise the server could not open its own
 * archives, or would hold a key nobody meant it to.
 *
 * @example
 * const identities = await readVerifyIdentity(policy.current().backups); // ['AGE-SECRET-KEY-1…'] or null
 * @throws VerifyIdentityError naming `backups.verify.identityFile`.
 */
export async function readVerifyIdentity(backups: BackupsPolicy | null): Promise<string[] | null> {
  const path = backups?.verify?.identityFile;
  if (backups === null || path === undefined) return null;
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new VerifyIdentityError(`${FIELD}: ${path} is not a regular file`);
    mode = info.mode & 0o777;
  } catch (error) {
    if (error instanceof VerifyIdentityError) throw error;
    throw new VerifyIdentityError(`${FIELD}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new VerifyIdentityError(
      `${FIELD}: ${path} is readable or writable by group or others (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`,
    );
  }
  let identities: string[];
  try {
    identities = await readIdentityFile(path);
  } catch (error) {
    if (!(error instanceof IdentityFileError)) throw error;
    throw new VerifyIdentityError(error.message.replace(/^--identity: /, `${FIELD}: `));
  }
  const recipients = new Set(backups.recipients);
  for (const identity of identities) {
    let recipient: string;
    try {
      recipient = await identityToRecipient(identity);
    } catch {
      throw new VerifyIdentityError(`${FIELD}: ${path} holds a line that is not a valid age identity`);
    }
    if (recipients.has(recipient)) return identities;
  }
  throw new VerifyIdentityError(
    `${FIELD}: the identity in ${path} is not one of backups.recipients; add its recipient (age-keygen -y) to the list`,
  );
}
