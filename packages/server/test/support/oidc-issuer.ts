import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';

export interface TokenOptions {
  /** Claims over the defaults (`sub`, `groups`, `aud`, `iss`); `undefined` drops a default claim. */
  claims?: Record<string, unknown>;
  /** Seconds from `now` until `exp` (negative: already expired). */
  expiresIn?: number;
  /** Signs with the rogue key (not in the JWKS) instead of the issuer's. */
  rogue?: boolean;
  /** The `kid` header (the issuer's own by default). */
  kid?: string;
}

/**
 * A small OpenID Connect issuer on loopback for tests: a discovery document
 * and a JWKS over node:http, and tokens signed with jose's SignJWT under a
 * generated ES256 key. `rogue` signs with a second key the JWKS does not
 * hold; `jwksStatus` makes the JWKS endpoint fail.
 */
export class OidcIssuer {
  readonly audience = 'keyward-test';
  issuer = '';
  /** HTTP status the JWKS endpoint answers (200 by default). */
  jwksStatus = 200;
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;
  readonly #server: Server;
  #key!: CryptoKey;
  #rogue!: CryptoKey;
  #jwk!: JWK;
  readonly kid = 'test-key-1';

  private constructor() {
    this.#server = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: this.issuer, jwks_uri: `${this.issuer}/jwks` }));
      } else if (req.url === '/jwks') {
        this.jwksFetches += 1;
        res.writeHead(this.jwksStatus, { 'content-type': 'application/json' });
        res.end(this.jwksStatus === 200 ? JSON.stringify({ keys: [this.#jwk] }) : '{}');
      } else {
        res.writeHead(404).end();
      }
    });
  }

  static async start(): Promise<OidcIssuer> {
    const issuer = new OidcIssuer();
    const pair = await generateKeyPair('ES256', { extractable: true });
    issuer.#key = pair.privateKey;
    issuer.#jwk = { ...(await exportJWK(pair.publicKey)), kid: issuer.kid, alg: 'ES256', use: 'sig' };
    issuer.#rogue = (await generateKeyPair('ES256')).privateKey;
    await new Promise<void>((resolve) => issuer.#server.listen(0, '127.0.0.1', resolve));
    issuer.issuer = `http://127.0.0.1:${(issuer.#server.address() as AddressInfo).port}`;
    return issuer;
  }

  /** A signed token for `sub` in `groups`, issued at `now`. */
  async token(sub: string, groups: string[], now: Date, options: TokenOptions = {}): Promise<string> {
    const iat = Math.floor(now.getTime() / 1000);
    const claims: Record<string, unknown> = { sub, groups, ...options.claims };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    const jwt = new SignJWT(claims as JWTPayload)
      .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? this.kid, typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.expiresIn ?? 300));
    if (!('iss' in claims)) jwt.setIssuer(this.issuer);
    if (!('aud' in claims)) jwt.setAudience(this.audience);
    return jwt.sign(options.rogue ? this.#rogue : this.#key);
  }

  /** An unsigned (`alg: none`) token with otherwise valid claims. */
  unsecured(sub: string, groups: string[], now: Date): string {
    const iat = Math.floor(now.getTime() / 1000);
    return new UnsecuredJWT({ sub, groups })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .encode();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
