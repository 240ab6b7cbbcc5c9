import { KeywardError } from '@keyward/wire';
import type { GrantRecord, KeyRecord, VersionRecord } from '../store/records.js';
import type { Store } from '../store/store.js';

/** A key with everything the hot path needs to authorize and act. */
export interface LoadedKey {
  record: KeyRecord;
  versions: readonly VersionRecord[];
  grants: readonly GrantRecord[];
}

const MAX_CACHED = 50_000;

/**
 * Key lookups with a bounded cache, so the encrypt path does no database
 * work beyond its audit record. Every write to a key evicts it on this node
 * (the service calls {@link KeyDirectory.forget} after each commit).
 */
export class KeyDirectory {
  readonly #store: Store;
  readonly #cache = new Map<string, LoadedKey>();
  /**
   * Bumped by every eviction. A read-through that started before an eviction
   * may have read the old state: it answers its own request but is not
   * cached, or a change committed meanwhile would be forgotten.
   */
  #generation = 0;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The key, or not_found naming it. */
  async load(namespace: string, name: string): Promise<LoadedKey> {
    const id = `${namespace}\0${name}`;
    // The cache is trusted only while changes from other nodes cannot be missed.
    const cached = this.#store.changesReliable() ? this.#cache.get(id) : undefined;
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const record = await this.#store.getKey(namespace, name);
    if (record === null) throw new KeywardError('not_found', `key '${name}' does not exist in namespace '${namespace}'`);
    const [versions, grants] = await Promise.all([this.#store.getVersions(record.id), this.#store.listGrants(record.id)]);
    const loaded: LoadedKey = { record, versions, grants };
    if (generation !== this.#generation) return loaded;
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(id, loaded);
    return loaded;
  }

  forget(namespace: string, name: string): void {
    this.#generation += 1;
    this.#cache.delete(`${namespace}\0${name}`);
  }

  clear(): void {
    this.#generation += 1;
    this.#cache.clear();
  }
}

/** The version numbered `n`, or not_found. */
export function findVersion(key: LoadedKey, n: number): VersionRecord {
  const version = key.versions.find((v) => v.version === n);
  if (version === undefined) throw new KeywardError('not_found', `key '${key.record.name}' has no version ${n}`);
  return version;
}
