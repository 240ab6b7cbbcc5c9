import { KeywardError } from '@keyward/wire';
import type { KeyRecord } from '../store/records.js';
import type { Store, StoreOps } from '../store/store.js';
import type { GeneratedVersion, HsmKeys } from './hsm-keys.js';

/**
 * How many times one change generates an RSA pair, at most: each time after
 * the first, another change had recorded the version number the previous
 * pair was made for while the token generated it.
 */
const MAX_GENERATIONS = 3;

/** Token objects made for version `version` of the key `keyId`. */
interface Made extends GeneratedVersion {
  readonly keyId: string;
  readonly version: number;
}

/** One run of a transaction: the pair generated before it, and the objects its version records took. */
interface Attempt {
  readonly ahead: Made | null;
  readonly taken: Made[];
}

/**
 * Thrown inside a transaction that is about to record version `version` of
 * `key` without a pair generated for it: the transaction rolls back, the pair
 * is generated outside it, and the transaction runs again.
 */
class PairNeeded extends Error {
  readonly key: KeyRecord;
  readonly version: number;

  constructor(key: KeyRecord, version: number) {
    super(`version ${version} of key '${key.name}' is generated in the token before its transaction`);
    this.key = key;
    this.version = version;
  }
}

/**
 * The token objects of new versions of hsm keys, and the transactions that
 * record them. An RSA pair takes the token seconds to generate, and a
 * transaction held open that long would hold SQLite's write lock (every
 * audited request waits). So a transaction that reaches a new hsm RSA
 * version ({@link take}) is rolled back, the pair is generated for that key
 * and version number with no transaction open, and the transaction runs
 * again (its checks included) and records it, if the number is still the
 * next one. AES and EC P-256 objects take the token milliseconds: they are
 * generated where they are recorded, inside the transaction.
 *
 * Token objects whose version is not recorded are destroyed: the request
 * refused on its second run (the key changed meanwhile), the transaction
 * failed, or another change took the version number (then the pair is
 * generated again for the next number, {@link MAX_GENERATIONS} times at
 * most, then `conflict`). Objects stay in the token only after a crash
 * between generation and commit, with the token out of reach when they are
 * to be destroyed, or when a failed commit may have recorded them after all
 * ({@link #discardUnrecorded}); under a label whose version records another
 * CKA_ID or does not exist, they are used by nothing.
 */
export class TokenVersions {
  readonly #hsm: HsmKeys;
  readonly #attempts = new WeakMap<StoreOps, Attempt>();

  constructor(hsm: HsmKeys) {
    this.#hsm = hsm;
  }

  /**
   * `store.transaction(fn)` for a change that may create versions of hsm
   * keys. `fn` may run more than once (never concurrently), each run in a
   * transaction of its own of which only the last commits. One new hsm RSA
   * version per transaction.
   */
  async transaction<T>(store: Pick<Store, 'transaction' | 'getVersions'>, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    let ahead: Made | null = null;
    for (let generations = 0; ; ) {
      const attempt: Attempt = { ahead, taken: [] };
      let result: T;
      try {
        result = await store.transaction((tx) => {
          this.#attempts.set(tx, attempt);
          return fn(tx);
        });
      } catch (error) {
        const made = ahead === null || attempt.taken.includes(ahead) ? attempt.taken : [ahead, ...attempt.taken];
        ahead = null;
        if (!(error instanceof PairNeeded)) {
          await this.#discardUnrecorded(store, made);
          throw error;
        }
        // Thrown by `fn`: this run rolled back for certain.
        for (const m of made) this.#hsm.discard(m.material);
        if (generations === MAX_GENERATIONS) {
          throw new KeywardError(
            'conflict',
            `key '${error.key.name}' gained a version from another change while this one generated its key pair in the token, ${MAX_GENERATIONS} times; try again`,
          );
        }
        generations++;
        ahead = { keyId: error.key.id, version: error.version, ...(await this.#hsm.generate(error.key, error.version)) };
        continue;
      }
      // Committed: the objects taken belong to their version records; a pair generated for nothing goes.
      if (ahead !== null && !attempt.taken.includes(ahead)) this.#hsm.discard(ahead.material);
      return result;
    }
  }

  /**
   * The token objects of version `n` of the hsm key `key`, for the version
   * record `tx` is about to insert: the pair generated before the
   * transaction for this key and number, or (AES, EC) objects generated now.
   * Throws {@link PairNeeded} for an RSA version without its pair, which
   * {@link transaction} answers; `tx` must be one of its transactions.
   */
  async take(tx: StoreOps, key: KeyRecord, n: number): Promise<GeneratedVersion> {
    const attempt = this.#attempts.get(tx);
    if (attempt === undefined) throw new Error('a version of an hsm key is created only in a Lifecycle.transaction');
    const { ahead } = attempt;
    let made: Made;
    if (ahead !== null && ahead.keyId === key.id && ahead.version === n) made = ahead;
    else if (this.#hsm.slowToGenerate(key)) throw new PairNeeded(key, n);
    else made = { keyId: key.id, version: n, ...(await this.#hsm.generate(key, n)) };
    attempt.taken.push(made);
    return { material: made.material, fingerprint: made.fingerprint, publicKey: made.publicKey };
  }

  /**
   * After a transaction failed for another reason than {@link PairNeeded}:
   * destroys the objects no stored version names. A commit whose answer was
   * lost (PostgreSQL gone after COMMIT) may have recorded them, and a
   * recorded version whose objects are destroyed could never be used again;
   * when the store cannot tell, they stay.
   */
  async #discardUnrecorded(store: Pick<Store, 'getVersions'>, made: readonly Made[]): Promise<void> {
    for (const m of made) {
      let recorded: boolean;
      try {
        const versions = await store.getVersions(m.keyId);
        recorded = versions.some((v) => v.material !== null && Buffer.from(v.material).equals(m.material));
      } catch {
        continue;
      }
      if (!recorded) this.#hsm.discard(m.material);
    }
  }
}
