import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Handle, Template } from 'pkcs11js';
import { afterAll } from 'vitest';
import { loadPkcs11Library } from '../../src/seal/pkcs11/pkcs11-library.js';

/**
 * SoftHSM2 for tests, without machine state: a token directory and a config
 * file in a temporary directory (`SOFTHSM2_CONF` points at it), tokens made
 * with `softhsm2-util --init-token`. Missing SoftHSM fails the test run, it
 * never skips it (.ci/run installs the Debian package `softhsm2`).
 */

const LIBRARY_CANDIDATES = [
  process.env.KEYWARD_TEST_PKCS11_LIBRARY,
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** The SoftHSM2 PKCS#11 library; throws (failing the test) when it is not installed. */
export function softHsmLibrary(): string {
  const found = LIBRARY_CANDIDATES.find((path) => path !== undefined && existsSync(path));
  if (found === undefined) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2); the PKCS#11 tests need it');
  return found;
}

/** One SoftHSM home: a config file and its token directory. */
export interface SoftHsm {
  readonly library: string;
  /** The config file; give it to a process as `SOFTHSM2_CONF`. */
  readonly conf: string;
  readonly tokenDir: string;
  /** `{ SOFTHSM2_CONF }` for a child process. */
  readonly env: Record<string, string>;
  /** Initializes a token in the first free slot with the given user PIN. */
  initToken(label: string, pin: string): void;
  /** Deletes a token (its files), as if it were unplugged for good. */
  deleteToken(label: string): void;
}

/** Makes a SoftHSM home in a temporary directory, removed after the test file. */
export function makeSoftHsm(): SoftHsm {
  const library = softHsmLibrary();
  const dir = mkdtempSync(join(tmpdir(), 'keyward-softhsm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, {
    mode: 0o600,
  });
  const env = { SOFTHSM2_CONF: conf };
  const util = (args: string[]) => execFileSync('softhsm2-util', args, { env: { ...process.env, ...env }, stdio: 'pipe' });
  return {
    library,
    conf,
    tokenDir,
    env,
    initToken: (label, pin) => {
      // The PINs of these throwaway test tokens are on argv here; Keyward itself never takes a PIN from argv.
      util(['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`]);
    },
    deleteToken: (label) => {
      util(['--delete-token', '--token', label]);
    },
  };
}

/**
 * The SoftHSM home of this test process: the library reads `SOFTHSM2_CONF`
 * once, at `C_Initialize`, so every in-process seal must use one home, and
 * its tokens must exist before the first seal opens.
 */
export function inProcessSoftHsm(tokens: ReadonlyArray<{ label: string; pin: string }>): SoftHsm {
  const hsm = makeSoftHsm();
  process.env.SOFTHSM2_CONF = hsm.conf;
  for (const token of tokens) hsm.initToken(token.label, token.pin);
  return hsm;
}

/**
 * A session of a test's own on the token labelled `token`, logged in as its
 * user, to look at the token the way an auditor would. The seal's login is
 * per process, so one already made is shared. `objects` finds the handles
 * of the objects matching a template (every object for `[]`).
 */
export function openTokenSession(library: string, token: string, pin: string) {
  const { ck, module } = loadPkcs11Library(library);
  const slot = module.C_GetSlotList(true).find((s) => module.C_GetTokenInfo(s).label.trim() === token);
  if (slot === undefined) throw new Error(`no token ${token}`);
  const session = module.C_OpenSession(slot, ck.CKF_SERIAL_SESSION | ck.CKF_RW_SESSION);
  try {
    module.C_Login(session, ck.CKU_USER, pin);
  } catch (error) {
    if ((error as Error).message !== 'CKR_USER_ALREADY_LOGGED_IN') throw error;
  }
  const objects = (template: Template): Handle[] => {
    module.C_FindObjectsInit(session, template);
    const found = module.C_FindObjects(session, 10_000);
    module.C_FindObjectsFinal(session);
    return found;
  };
  return { ck, module, slot, session, objects, close: () => module.C_CloseSession(session) };
}
