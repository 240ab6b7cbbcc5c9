import { type JwkSet, KeywardError, type UsageReport } from '@keyward/wire';
import { apiPath } from './api-path.js';
import { GrantsApi } from './grants-api.js';
import type { UsageOptions } from './sdk-types.js';

/** Reports about one key: its JWK Set and how its versions are used. */
export class ReportsApi extends GrantsApi {
  /**
   * The JWK Set (RFC 7517) of an asymmetric key: every version that may still
   * verify (or be encrypted to), and a prepublished `pre_active` one, newest
   * first; `kid` is `<key id>:<version>`.
   *
   * @example
   * const { keys } = await client.jwks('release-signing');
   */
  jwks(name: string): Promise<JwkSet> {
    return this.transport.request<JwkSet>('GET', apiPath`/keys/${name}/jwks`);
  }

  /**
   * Successful cryptographic operations per version, by principal and
   * operation, counted from the audit records; every version is listed,
   * newest first. `since` (an RFC 3339 time or a Date) counts only later ones.
   *
   * @example
   * const report = await client.usage('payments-db', { since: '2026-06-01T00:00:00Z' });
   * const stillOnV1 = report.versions.find((v) => v.version === 1)?.byPrincipal.map((p) => p.principal);
   */
  usage(name: string, options: UsageOptions = {}): Promise<UsageReport> {
    const { since: given } = options;
    if (given instanceof Date && Number.isNaN(given.getTime())) throw new KeywardError('invalid_request', 'since: not a valid time');
    const since = given instanceof Date ? given.toISOString() : given;
    return this.transport.request<UsageReport>('GET', apiPath`/keys/${name}/usage`, { query: { since } });
  }
}
