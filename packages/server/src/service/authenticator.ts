import { createHash, randomBytes } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import type { PrincipalRecord, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { Clock } from './clock.js';
import type { Principal } from './context.js';

/** Tokens are 256-bit random values (API.md), prefixed so scanners recognise them. */
export function newToken(): string {
  return `kw_${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 of a token. A token carries 256 bits of entropy, so a fast hash is
 * enough: there is nothing to brute-force (unlike passwords).
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

interface CacheEntry {
  token: TokenRecord;
  principal: PrincipalRecord;
}

const MAX_CACHED = 10_000;
const MAX_CREDENTIAL_LENGTH = 512;

/**
 * Resolves bearer tokens to principals, with a bounded cache on the hot path.
 * Revocation and principal changes evict at once on this node.
 */
export class Authenticator {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #cache = new Map<string, CacheEntry>();
  /** Bumped by every eviction: a lookup that raced one is not cached (see KeyDirectory). */
  #generation = 0;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  async authenticate(credential: string | null): Promise<Principal> {
    if (credential === null || credential.length === 0 || credential.length > MAX_CREDENTIAL_LENGTH) {
      throw new KeywardError('unauthenticated', 'a valid bearer token is required');
    }
    const hash = hashToken(credential);
    // The cache is trusted only while changes from other nodes cannot be missed.
    let entry = this.#store.changesReliable() ? this.#cache.get(hash) : undefined;
    if (entry === undefined) {
      const generation = this.#generation;
      const token = await this.#store.getTokenByHash(hash);
      const principal = token ? await this.#store.getPrincipal(token.principalId) : null;
      if (token === null || principal === null) throw new KeywardError('unauthenticated', 'the token is unknown');
      entry = { token, principal };
      if (generation === this.#generation) {
        if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value as string);
        this.#cache.set(hash, entry);
      }
    }
    const { token, principal } = entry;
    if (token.revokedAt !== null) throw new KeywardError('unauthenticated', 'the token was revoked');
    if (token.expiresAt !== null && new Date(token.expiresAt).getTime() <= this.#clock.now().getTime()) {
      throw new KeywardError('unauthenticated', 'the token has expired');
    }
    if (principal.disabled) throw new KeywardError('unauthenticated', 'the principal is disabled');
    return { ...principal, tokenId: token.id };
  }

  /**
   * The principal an approved operation runs as: its requester, as stored
   * now. One disabled (or offboarded) since the request is refused: an
   * approval does not outlive its requester's access.
   */
  async requester(id: string): Promise<Principal> {
    const principal = await this.#store.getPrincipal(id);
    if (principal === null)
      throw new KeywardError('forbidden', `the requester '${id}' no longer exists; the approved operation does not run`);
    if (principal.disabled) throw new KeywardError('forbidden', `the requester '${id}' is disabled; the approved operation does not run`);
    return { ...principal, tokenId: '' };
  }

  /** Drops a revoked token from the cache. */
  forgetToken(tokenId: string): void {
    this.#generation += 1;
    for (const [hash, entry] of this.#cache) if (entry.token.id === tokenId) this.#cache.delete(hash);
  }

  /** Drops every cached token of a principal (after the principal changes). */
  forgetPrincipal(principalId: string): void {
    this.#generation += 1;
    for (const [hash, entry] of this.#cache) if (entry.principal.id === principalId) this.#cache.delete(hash);
  }

  clear(): void {
    this.#generation += 1;
    this.#cache.clear();
  }
}
