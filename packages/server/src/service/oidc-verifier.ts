import { ENVIRONMENTS, type Environment, KeywardError, type Role } from '@keyward/wire';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import { PRINCIPAL_ID_PATTERN } from '../keys/names.js';
import { clockToleranceMs } from '../policy/parse-policy.js';
import type { OidcPolicy } from '../policy/policy.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { Clock } from './clock.js';

/** A compact JWS: three base64url parts (the last empty for `alg: none`, which is refused). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const PRINCIPAL_ID = new RegExp(PRINCIPAL_ID_PATTERN);
const FETCH_TIMEOUT_MS = 5_000;
/** After a failed discovery, requests are refused without asking the issuer again for this long. */
const DISCOVERY_RETRY_MS = 10_000;

/** Whether a bearer credential is shaped like a JWT (a Keyward token `kw_…` never holds a dot). */
export const isJwt = (credential: string): boolean => JWT_SHAPE.test(credential);

/** Who an OIDC token names, and what its groups give. */
export interface OidcIdentity {
  id: string;
  roles: Role[];
  environments: Environment[];
  teams: string[];
  /** The token's `amr` names a value of `oidc.secondFactorAmr`. */
  secondFactor: boolean;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * Verifies bearer JWTs from the issuer in the policy's `oidc:` section with
 * jose: signature against the issuer's JWKS (fetched lazily, cached and
 * refreshed by jose when an unknown `kid` appears), `iss`, `aud`, `exp`,
 * `nbf`, and the allowed algorithms. The keys follow the policy: a reloaded
 * `oidc:` section is used from the next request on.
 *
 * Every refusal is `unauthenticated`; a message says which check failed but
 * never quotes the token. An issuer whose keys cannot be fetched refuses the
 * request (401, and `onError` for the log) rather than failing it with 500.
 */
export class OidcVerifier {
  readonly #policy: PolicySource;
  readonly #clock: Clock;
  readonly #onError: (error: unknown, message: string) => void;
  #config: OidcPolicy | null = null;
  #keys: Promise<KeySet> | null = null;
  /** Real time (not the injected clock: this paces network calls) after which a failed discovery is tried again. */
  #retryAt: number | null = null;

  constructor(deps: { policy: PolicySource; clock: Clock; onError?: (error: unknown, message: string) => void }) {
    this.#policy = deps.policy;
    this.#clock = deps.clock;
    this.#onError = deps.onError ?? (() => {});
  }

  /** Whether the policy in force accepts OIDC tokens. */
  get enabled(): boolean {
    return this.#policy.current().oidc !== null;
  }

  /**
   * Verifies `jwt` and maps it to a principal id and the roles of its groups.
   *
   * @example
   * const who = await verifier.verify(bearer); // { id: 'oidc-alice', roles: ['admin'], … }
   */
  async verify(jwt: string): Promise<OidcIdentity> {
    const config = this.#policy.current().oidc;
    if (config === null) throw new KeywardError('unauthenticated', 'OIDC tokens are not accepted (no oidc: section in the policy)');
    const keys = await this.#keySet(config);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: clockToleranceMs(config.clockTolerance) / 1000,
        currentDate: this.#clock.now(),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw this.#refusal(error);
    }
    return mapIdentity(config, payload);
  }

  /** The issuer's key set for `config`, built once per policy (discovery when no jwksUri is given). */
  #keySet(config: OidcPolicy): Promise<KeySet> {
    const retry = this.#retryAt !== null && Date.now() >= this.#retryAt;
    if (this.#config !== config || this.#keys === null || retry) {
      this.#config = config;
      this.#retryAt = null;
      const keys = (async () => {
        const uri = config.jwksUri ?? (await discoverJwksUri(config.issuer));
        return createRemoteJWKSet(new URL(uri), { timeoutDuration: FETCH_TIMEOUT_MS });
      })();
      this.#keys = keys;
      // A failed discovery is tried again after a pause (not on every request: a down issuer is not hammered).
      keys.catch(() => {
        if (this.#keys === keys) this.#retryAt = Date.now() + DISCOVERY_RETRY_MS;
      });
    }
    return this.#keys.catch((error: unknown) => {
      const message = 'the OIDC issuer cannot be reached to discover its keys; retry later';
      this.#onError(error, message);
      throw new KeywardError('unauthenticated', message);
    });
  }

  #refusal(error: unknown): KeywardError {
    if (error instanceof errors.JWTExpired) return new KeywardError('unauthenticated', 'the OIDC token has expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      const missing = error.reason === 'missing' ? ' (missing)' : '';
      return new KeywardError('unauthenticated', `the OIDC token's ${error.claim} claim is not valid${missing}`);
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return new KeywardError('unauthenticated', "the OIDC token's signature is not valid");
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return new KeywardError('unauthenticated', "no key of the OIDC issuer's key set matches the token");
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      return new KeywardError('unauthenticated', "the OIDC token's algorithm is not allowed");
    }
    if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) {
      const message = "the OIDC issuer's keys (JWKS) cannot be fetched; retry later";
      this.#onError(error, message);
      return new KeywardError('unauthenticated', message);
    }
    if (error.code === 'ERR_JOSE_GENERIC') {
      // jose reports a JWKS answer other than 200 this way.
      const message = "the OIDC issuer's keys (JWKS) cannot be fetched; retry later";
      this.#onError(error, message);
      return new KeywardError('unauthenticated', message);
    }
    return new KeywardError('unauthenticated', 'the OIDC token is not a valid JWT');
  }
}

/** OpenID Connect Discovery 1.0 §4: the configuration names the issuer (which must match exactly) and its `jwks_uri`. */
async function discoverJwksUri(issuer: string): Promise<string> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    redirect: 'error',
  });
  if (response.status !== 200) throw new Error(`discovery answered HTTP ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer) throw new Error('the discovery document names another issuer');
  if (typeof document.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
  const uri = new URL(document.jwks_uri);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(uri.hostname);
  if (uri.protocol !== 'https:' && !(uri.protocol === 'http:' && loopback)) throw new Error('jwks_uri must use https');
  return uri.toString();
}

/**
 * The principal id is `principalPrefix` + the principal claim, which must
 * then be a valid principal id (lower case, at most 128 characters): an id
 * that does not fit is refused, never folded or truncated (two people must
 * not map to one principal). Roles, environments and teams are the union of
 * the person's mapped groups; a person in no mapped group is refused.
 */
function mapIdentity(config: OidcPolicy, payload: JWTPayload): OidcIdentity {
  const subject = payload[config.principalClaim];
  if (typeof subject !== 'string' || subject === '') {
    throw new KeywardError('unauthenticated', `the OIDC token has no ${config.principalClaim} claim`);
  }
  const id = `${config.principalPrefix}${subject}`;
  if (!PRINCIPAL_ID.test(id)) {
    throw new KeywardError(
      'unauthenticated',
      `the OIDC token's ${config.principalClaim} claim cannot be mapped to a principal id (${PRINCIPAL_ID_PATTERN})`,
    );
  }
  const claimed = payload[config.groupsClaim];
  const groups = typeof claimed === 'string' ? [claimed] : Array.isArray(claimed) ? claimed.filter((g) => typeof g === 'string') : [];
  const mapped = groups.flatMap((g) => (Object.hasOwn(config.groups, g) ? [config.groups[g]] : [])).filter((g) => g !== undefined);
  if (mapped.length === 0) throw new KeywardError('unauthenticated', `'${id}' is in no group the policy maps to roles`);
  const roles = new Set<Role>();
  const environments = new Set<Environment>();
  const teams = new Set<string>();
  for (const group of mapped) {
    for (const role of group.roles) roles.add(role);
    for (const environment of group.environments ?? ENVIRONMENTS) environments.add(environment);
    for (const team of group.teams) teams.add(team);
  }
  const amr = Array.isArray(payload.amr) ? payload.amr : [];
  const secondFactor = amr.some((value) => typeof value === 'string' && config.secondFactorAmr.includes(value));
  return { id, roles: [...roles], environments: [...environments], teams: [...teams], secondFactor };
}
