import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeywardError } from '@keyward/wire';
import { describe, expect, it } from 'vitest';
import { loadPkcs11Library } from '../../src/seal/pkcs11/pkcs11-library.js';
import { Pkcs11Seal } from '../../src/seal/pkcs11/pkcs11-seal.js';
import { rejectionOf } from '../support/rejections.js';
import { inProcessSoftHsm, makeSoftHsm, openTokenSession } from '../support/softhsm.js';

// A file of its own: these tests re-initialize the process's PKCS#11 library, and they count its tries.
const PIN = `pin-${randomUUID()}`;
const hsm = inProcessSoftHsm([
  { label: 'present', pin: PIN },
  { label: 'second', pin: PIN },
  { label: 'third', pin: PIN },
]);
const aad = new TextEncoder().encode('ns/retry');

/** A token made in another SoftHSM home, moved into this process's token directory by {@link moveIn}. */
function elsewhereToken(label: string) {
  const other = makeSoftHsm();
  other.initToken(label, PIN);
  const [dir] = readdirSync(other.tokenDir);
  if (dir === undefined) throw new Error('softhsm2-util made no token directory');
  return {
    moveIn: () => renameSync(join(other.tokenDir, dir), join(hsm.tokenDir, dir)),
  };
}

function seal(token: string, pauses: number[], onPause: (attempt: number) => void = () => {}, pin = PIN): Pkcs11Seal {
  return new Pkcs11Seal({
    library: hsm.library,
    token,
    keyLabel: `root-${randomUUID()}`,
    readPin: async () => pin,
    pause: async (attempt) => {
      pauses.push(attempt);
      onPause(attempt);
    },
  });
}

const failure = (promise: Promise<unknown>) => rejectionOf(promise, KeywardError);

async function roundTrip(s: Pkcs11Seal): Promise<void> {
  const secret = new Uint8Array(32).fill(7);
  expect(await s.unwrap(await s.wrap(secret, aad), aad)).toEqual(secret);
}

describe('Pkcs11Seal: opening a session tries again after a transient failure', () => {
  it('a token that only appears after the first tries (another process was rewriting it) is found: the library reads its slots again', async () => {
    const late = elsewhereToken('late');
    const pauses: number[] = [];
    const s = seal('late', pauses, (attempt) => {
      if (attempt === 2) late.moveIn();
    });
    await s.open();
    // Tries 1 and 2 saw no token; the third, after re-initializing the library, found it.
    expect(pauses).toEqual([1, 2]);
    expect(s.status()).toMatchObject({ initialized: false, sealed: true });
    await s.init();
    expect(s.status()).toMatchObject({ initialized: true, sealed: false });
    await roundTrip(s);
    s.seal();
  });

  it('a token that never appears: five tries, then the one line naming the label and what is present', async () => {
    const pauses: number[] = [];
    const error = await failure(seal('nowhere', pauses).open());
    expect(pauses).toEqual([1, 2, 3, 4]);
    expect(error.code).toBe('internal');
    expect(error.message).toMatch(/^no PKCS#11 token labelled 'nowhere' \(tokens present: .*'present'.*\)$/);
  });

  it('a refused PIN is tried once only: every try would count against the PIN retry limit', async () => {
    const pauses: number[] = [];
    const wrong = `wrong-${randomUUID()}`;
    const error = await failure(seal('present', pauses, () => {}, wrong).open());
    expect(pauses).toEqual([]);
    expect(error.message).toBe("the PKCS#11 PIN was refused by token 'present'");
    expect(error.message).not.toContain(wrong);
  });

  it('while this process has a session open the library is never re-initialized, so that session keeps serving', async () => {
    const serving = seal('present', []);
    await serving.init();
    // A session of the test's own, opened before: C_Finalize would invalidate its handle.
    const watcher = openTokenSession(hsm.library, 'present', PIN);
    const pauses: number[] = [];
    await failure(seal('nowhere', pauses).open());
    expect(pauses).toEqual([1, 2, 3, 4]);
    expect(watcher.module.C_GetSessionInfo(watcher.session).slotID).toEqual(watcher.slot);
    watcher.close();
    await roundTrip(serving);
    serving.seal();
  });

  it('a token caught mid-write (its file unreadable: CKR_GENERAL_ERROR) is read again on the next try', async () => {
    const file = tokenFile('present');
    const saved = readFileSync(file);
    writeFileSync(file, 'a token file being rewritten');
    const pauses: number[] = [];
    const s = seal('present', pauses, () => writeFileSync(file, saved));
    await s.init();
    expect(pauses).toEqual([1]);
    await roundTrip(s);
    s.seal();
  });

  it('a slot whose token cannot be read is passed over when a later slot holds the label sought', async () => {
    // The last of this home's tokens in the library's slot order is sought; every other one is made unreadable.
    const { module } = loadPkcs11Library(hsm.library);
    const order = module
      .C_GetSlotList(true)
      .map((slot) => module.C_GetTokenInfo(slot).label.trim())
      .filter((label) => label !== '');
    expect(order.length).toBeGreaterThan(1);
    const sought = order.at(-1) as string;
    for (const label of order.slice(0, -1)) writeFileSync(tokenFile(label), 'unreadable');
    const pauses: number[] = [];
    const s = seal(sought, pauses);
    await s.init();
    expect(pauses).toEqual([]);
    await roundTrip(s);
    s.seal();
  });
});

/** The file SoftHSM2 keeps a token's label and flags in (its label is stored as written, padded to 32 bytes). */
function tokenFile(label: string): string {
  const padded = Buffer.from(label.padEnd(32, ' '));
  for (const dir of readdirSync(hsm.tokenDir)) {
    const file = join(hsm.tokenDir, dir, 'token.object');
    if (readFileSync(file).includes(padded)) return file;
  }
  throw new Error(`no token file holds the label ${label}`);
}
