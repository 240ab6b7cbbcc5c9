import { timingSafeEqual } from 'node:crypto';
import { fingerprint, unwrapKey } from '@keyward/crypto';
import type { AlgorithmName } from '@keyward/wire';
import { materialAad } from '../keys/material-aad.js';
import { zero } from '../seal/zero.js';
import type { TableRow } from '../store/table-copy.js';

/** A key version's material could not be proven: its KEK is missing, or it does not unwrap under it. Names the version, never a secret. */
export class KnownAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnownAnswerError';
  }
}

/** The known-answer value of one version, and what names it to an operator. */
export interface VersionAnswer {
  keyId: string;
  /** The key's name, or its id when the key row is missing. */
  name: string;
  version: number;
  value: string;
}

/**
 * Computes known-answer values of key versions (docs/formats.md §9.4) from
 * rows read in table order: `keks` (with their unwrapped secret), then
 * `keys`, then `key_versions`. The backup writer feeds it what it reads from
 * the store; `keyward backup verify` feeds it the restored store. The value
 * is `fingerprint(algorithm, material)` — a one-way commitment (HMAC-SHA256
 * over a fixed label keyed by symmetric material; SHA-256 of the public key
 * of asymmetric material) — so it proves the material without revealing it.
 * KEK copies are zeroed by {@link dispose}, material as soon as it is used.
 *
 * @example
 * const answers = new KnownAnswers();
 * answers.kek('default', 1, kekSecret);
 * answers.key(keyRow);
 * answers.answer(versionRow); // { keyId, name, version, value: 'hmac-sha256:…' }
 * answers.dispose();
 */
export class KnownAnswers {
  readonly #keks = new Map<string, Uint8Array>();
  readonly #keys = new Map<string, { namespace: string; name: string; algorithm: AlgorithmName; hsm: boolean }>();

  /** Keeps a copy of an unwrapped KEK (the caller zeroes its own). */
  kek(namespace: string, version: number, secret: Uint8Array): void {
    this.#keks.get(`${namespace}\0${version}`)?.fill(0);
    this.#keks.set(`${namespace}\0${version}`, Uint8Array.from(secret));
  }

  /** Remembers a `keys` row's namespace, name and algorithm. */
  key(row: TableRow): void {
    this.#keys.set(String(row.id), {
      namespace: String(row.namespace),
      name: String(row.name),
      algorithm: String(row.algorithm) as AlgorithmName,
      // HSM-resident versions hold a reference to a token object, not wrapped material.
      hsm: row.protection === 'hsm',
    });
  }

  /** Whether the key is HSM-resident: its versions reference token objects and have no known-answer value. */
  inToken(keyId: string): boolean {
    return this.#keys.get(keyId)?.hsm === true;
  }

  /** The key's name for reports, or its id. */
  nameOf(keyId: string): string {
    return this.#keys.get(keyId)?.name ?? keyId;
  }

  /**
   * The known-answer value of a `key_versions` row, or null when it holds no
   * material (destroyed) or only a reference to a token object (an
   * HSM-resident key: its material never leaves the token, so a backup
   * cannot carry or prove it; docs/formats.md §9.4). Throws {@link KnownAnswerError} when its key or
   * KEK is unknown or the material does not authenticate under its binding.
   */
  answer(row: TableRow): VersionAnswer | null {
    const keyId = String(row.key_id);
    const version = Number(row.version);
    if (row.material === null || row.material === undefined) return null;
    const key = this.#keys.get(keyId);
    const name = key?.name ?? keyId;
    if (key === undefined) throw new KnownAnswerError(`key ${keyId} version ${version}: its key row is missing`);
    if (key.hsm) return null;
    const kek = this.#keks.get(`${key.namespace}\0${Number(row.kek_version)}`);
    if (kek === undefined) {
      throw new KnownAnswerError(
        `key '${name}' version ${version}: KEK ${Number(row.kek_version)} of namespace ${key.namespace} is missing`,
      );
    }
    let secret: Uint8Array;
    try {
      secret = unwrapKey(kek, row.material as Uint8Array, materialAad(key.namespace, keyId, version, key.algorithm));
    } catch {
      throw new KnownAnswerError(`key '${name}' version ${version}: its material does not unwrap under its KEK (altered or misplaced)`);
    }
    try {
      return { keyId, name, version, value: fingerprint(key.algorithm, secret) };
    } finally {
      zero(secret);
    }
  }

  /** Zeroes every KEK copy. */
  dispose(): void {
    for (const secret of this.#keks.values()) secret.fill(0);
    this.#keks.clear();
    this.#keys.clear();
  }
}

/** The form of a known-answer value: what `fingerprint` returns. */
export const KNOWN_ANSWER_PATTERN = /^(sha256:[0-9a-f]{64}|hmac-sha256:[0-9a-f]{32})$/;

/** Compares two known-answer values in constant time (they are not secret, but the habit costs nothing). */
export function sameAnswer(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
