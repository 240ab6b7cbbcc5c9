import { hash, randomBytes } from 'node:crypto';
import { KeywardError } from '@keyward/wire';
import type { PrincipalRecord, TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { ApprovedExecution } from './approvals.js';
import { assertUsable, type ClientCertificate } from './client-certificate.js';
import type { Clock } from './clock.js';
import type { Principal } from './context.js';
import { isJwt, type OidcVerifier } from './oidc-verifier.js';

/** Tokens are 256-bit random values (API.md), prefixed so scanners recognise them. */
export function newToken(): string {
  return `kw_${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 of a token. A token carries 256 bits of entropy, so a fast hash is
 * enough: there is nothing to brute-force (unlike passwords).
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

interface CacheEntry {
  token: TokenRecord;
  principal: PrincipalRecord;
  /** What the token authenticates as, built once per cached lookup (frozen: every request shares it). */
  caller: Principal;
  /** `token.expiresAt` in ms since the epoch, parsed once; null for a token that does not expire. */
  expiresAtMs: number | null;
}

const MAX_CACHED = 10_000;
const MAX_CREDENTIAL_LENGTH = 512;
/** OIDC tokens carry claims and a signature; a few kilobytes at most. */
const MAX_JWT_LENGTH = 16 * 1024;

/**
 * Resolves bearer tokens to principals, with a bounded cache on the hot path.
 * Revocation and principal changes evict at once on this node.
 *
 * When the policy has an `oidc:` section, a bearer credential shaped like a
 * JWT is verified as an OIDC token instead ({@link OidcVerifier}); its
 * principal exists only for the request (roles from the token's groups),
 * unless a stored principal of the same id is disabled, which refuses it.
 */
export class Authenticator {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #oidc: OidcVerifier | null;
  readonly #certificateOnly: boolean;
  readonly #cache = new Map<string, CacheEntry>();
  /** Client certificates (by SHA-256 fingerprint) already mapped to a principal. */
  readonly #certificates = new Map<string, PrincipalRecord>();
  /** Bumped by every eviction: a lookup that raced one is not cached (see KeyDirectory). */
  #generation = 0;

  constructor(store: Store, clock: Clock, oidc: OidcVerifier | null = null, options: { certificateOnly?: boolean } = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#oidc = oidc;
    this.#certificateOnly = options.certificateOnly ?? false;
  }

  /**
   * Authenticates a call by its bearer credential, its mutual-TLS client
   * certificate, or both. A certificate that is presented must be good (a
   * foreign CA, an expired or unmapped one is refused even beside a valid
   * token); with both, they must name the same principal, and the token
   * speaks for the call. In certificate-only mode a bearer credential is
   * refused whatever else the call carries, and a certificate is required.
   */
  async authenticate(credential: string | null, certificate: ClientCertificate | null = null): Promise<Principal> {
    if (this.#certificateOnly) {
      // Refused before it is looked up: a token sent here is a misconfigured client, never a way in.
      if (credential !== null) {
        throw new KeywardError('unauthenticated', 'bearer tokens are not accepted: this server authenticates by client certificate only');
      }
      if (certificate === null) throw new KeywardError('unauthenticated', 'a client certificate is required');
    }
    if (certificate === null) return this.#authenticateBearer(credential);
    const byCertificate = await this.#authenticateCertificate(certificate);
    if (credential === null) return byCertificate;
    const byToken = await this.#authenticateBearer(credential);
    if (byToken.id !== byCertificate.id) {
      throw new KeywardError('unauthenticated', 'the client certificate and the bearer token name different principals');
    }
    return byToken;
  }

  async #authenticateCertificate(certificate: ClientCertificate): Promise<Principal> {
    assertUsable(certificate, this.#clock.now());
    let principal = this.#store.changesReliable() ? this.#certificates.get(certificate.fingerprint) : undefined;
    if (principal === undefined) {
      const generation = this.#generation;
      const holders = [...new Set((await this.#store.findTlsIdentities(certificate.identities)).map((row) => row.principalId))];
      if (holders.length === 0) throw new KeywardError('unauthenticated', 'the client certificate is not registered to any principal');
      // Identities are unique, but one certificate may name several: it must not choose between principals.
      if (holders.length > 1) throw new KeywardError('unauthenticated', 'the client certificate names identities of several principals');
      const stored = await this.#store.getPrincipal(holders[0] as string);
      if (stored === null) throw new KeywardError('unauthenticated', 'the client certificate is not registered to any principal');
      principal = stored;
      if (generation === this.#generation) {
        if (this.#certificates.size >= MAX_CACHED) this.#certificates.delete(this.#certificates.keys().next().value as string);
        this.#certificates.set(certificate.fingerprint, principal);
      }
    }
    if (principal.disabled) throw new KeywardError('unauthenticated', 'the principal is disabled');
    return { ...principal, tokenId: '', via: 'mtls', secondFactor: false };
  }

  async #authenticateBearer(credential: string | null): Promise<Principal> {
    if (credential !== null && this.#oidc?.enabled === true && credential.length <= MAX_JWT_LENGTH && isJwt(credential)) {
      return this.#authenticateOidc(this.#oidc, credential);
    }
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
      entry = {
        token,
        principal,
        caller: Object.freeze({ ...principal, tokenId: token.id, via: 'token', secondFactor: false }),
        expiresAtMs: token.expiresAt === null ? null : new Date(token.expiresAt).getTime(),
      };
      if (generation === this.#generation) {
        if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value as string);
        this.#cache.set(hash, entry);
      }
    }
    const { token, principal, caller, expiresAtMs } = entry;
    if (token.revokedAt !== null) throw new KeywardError('unauthenticated', 'the token was revoked');
    if (expiresAtMs !== null && expiresAtMs <= this.#clock.now().getTime()) {
      throw new KeywardError('unauthenticated', 'the token has expired');
    }
    if (principal.disabled) throw new KeywardError('unauthenticated', 'the principal is disabled');
    return caller;
  }

  async #authenticateOidc(oidc: OidcVerifier, jwt: string): Promise<Principal> {
    const identity = await oidc.verify(jwt);
    // An administrator disables an OIDC person by creating (or keeping) a disabled principal of that id.
    const stored = await this.#store.getPrincipal(identity.id);
    if (stored?.disabled === true) throw new KeywardError('unauthenticated', 'the principal is disabled');
    return {
      id: identity.id,
      kind: 'user',
      roles: identity.roles,
      environments: identity.environments,
      teams: identity.teams,
      createdAt: stored?.createdAt ?? this.#clock.now().toISOString(),
      disabled: false,
      offboardedAt: null,
      tokenId: '',
      via: 'oidc',
      secondFactor: identity.secondFactor,
    };
  }

  /**
   * The principal an approved operation runs as: its requester, as stored
   * now. One disabled (or offboarded) since the request is refused: an
   * approval does not outlive its requester's access.
   */
  async requester(approved: Pick<ApprovedExecution, 'requester' | 'requesterIdentity'>): Promise<Principal> {
    const id = approved.requester;
    const identity = approved.requesterIdentity;
    const principal = await this.#store.getPrincipal(id);
    if (principal?.disabled === true) {
      throw new KeywardError('forbidden', `the requester '${id}' is disabled; the approved operation does not run`);
    }
    if (principal !== null) return { ...principal, tokenId: '', via: 'token', secondFactor: false };
    // An OIDC person is not stored: it acts as it was when it asked.
    if (identity.via !== 'oidc') {
      throw new KeywardError('forbidden', `the requester '${id}' no longer exists; the approved operation does not run`);
    }
    return {
      id,
      kind: identity.kind,
      roles: identity.roles,
      environments: identity.environments,
      teams: identity.teams,
      createdAt: this.#clock.now().toISOString(),
      disabled: false,
      offboardedAt: null,
      tokenId: '',
      via: 'oidc',
      secondFactor: false,
    };
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
    for (const [fingerprint, principal] of this.#certificates) if (principal.id === principalId) this.#certificates.delete(fingerprint);
  }

  clear(): void {
    this.#generation += 1;
    this.#cache.clear();
    this.#certificates.clear();
  }
}
