import { createRequire } from 'node:module';
import type * as pkcs11js from 'pkcs11js';

/** The `pkcs11js` module: constants and the `PKCS11` class. */
export type Pkcs11Js = typeof pkcs11js;

/** A loaded and initialized PKCS#11 library, with the constants of the binding that loaded it. */
export interface Pkcs11Library {
  readonly ck: Pkcs11Js;
  readonly module: pkcs11js.PKCS11;
}

/**
 * One loaded library per path for the whole process: PKCS#11 state (the
 * `C_Initialize`, the login) belongs to the process, not to an object, so
 * two seals over one library share it.
 */
const loaded = new Map<string, Pkcs11Library>();

/**
 * Loads the native binding — only now, so a server on another seal never
 * loads a native PKCS#11 module — then `path` (the vendor's library) and
 * initializes it with `CKF_OS_LOCKING_OK`: the library locks with the OS's
 * primitives (without it SoftHSM crashes under concurrent calls, PKCS#11
 * v2.40 §5.4). An already initialized library is kept as it is.
 *
 * Throws a one-line `Error` naming the path when the library cannot be loaded.
 *
 * @example
 * const { ck, module } = loadPkcs11Library('/usr/lib/softhsm/libsofthsm2.so');
 */
export function loadPkcs11Library(path: string): Pkcs11Library {
  const cached = loaded.get(path);
  if (cached !== undefined) return cached;
  const ck = createRequire(import.meta.url)('pkcs11js') as Pkcs11Js;
  const module = new ck.PKCS11();
  try {
    module.load(path);
  } catch (error) {
    throw new Error(`cannot load the PKCS#11 library ${path}: ${firstLine(error)}`);
  }
  initialize(ck, module, path);
  const library = Object.freeze({ ck, module });
  loaded.set(path, library);
  return library;
}

/** Sessions opened through each library by this process and not yet closed (see {@link reinitializePkcs11Library}). */
const openSessions = new WeakMap<Pkcs11Library, number>();

/** Counts a session opened through `library`; pair it with {@link sessionClosed}. */
export function sessionOpened(library: Pkcs11Library): void {
  openSessions.set(library, (openSessions.get(library) ?? 0) + 1);
}

/** Counts a session of `library` closed. */
export function sessionClosed(library: Pkcs11Library): void {
  openSessions.set(library, Math.max(0, (openSessions.get(library) ?? 0) - 1));
}

/**
 * `C_Finalize` then `C_Initialize` again, so the library reads its tokens
 * anew: a library builds its slot list once, at `C_Initialize`, and SoftHSM2
 * skips a token whose files another process is rewriting at that moment (a
 * login rewrites the token's file), so a process that starts while another
 * logs in can find no token at all (docs/seals.md, "Initialization and restarts"). Only when
 * this process has no session open through `library` — finalizing would
 * close them — and then true; false otherwise, changing nothing.
 */
export function reinitializePkcs11Library(library: Pkcs11Library, path: string): boolean {
  if ((openSessions.get(library) ?? 0) > 0) return false;
  try {
    library.module.C_Finalize();
  } catch {}
  initialize(library.ck, library.module, path);
  return true;
}

function initialize(ck: Pkcs11Js, module: pkcs11js.PKCS11, path: string): void {
  try {
    module.C_Initialize({ flags: ck.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (ckrName(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw new Error(`cannot initialize the PKCS#11 library ${path} (${ckrName(error) ?? firstLine(error)})`);
    }
  }
}

/** The `CKR_…` name of a PKCS#11 error thrown by pkcs11js, or null for any other error. */
export function ckrName(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  return /^CKR_[A-Z0-9_]+$/.test(error.message) ? error.message : null;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
