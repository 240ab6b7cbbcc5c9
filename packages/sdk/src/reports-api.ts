import {
  type ComplianceReport,
  type InventoryReport,
  type JwkSet,
  KeywardError,
  type ReportFormat,
  type ReportQuery,
  type UsageReport,
} from '@keyward/wire';
import { apiPath } from './api-path.js';
import { GrantsApi } from './grants-api.js';
import type { UsageOptions } from './sdk-types.js';

/** Reports: one key's JWK Set and usage; the namespace's inventory and compliance (docs/governance.md, "Reports"). */
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

  /**
   * Every key in the caller's environments (and the filters): owner, class,
   * age of the primary version, next rotation, last use, next review and
   * findings.
   *
   * @example
   * const { keys } = await client.inventoryReport({ environment: 'prod' });
   */
  inventoryReport(query: ReportQuery = {}): Promise<InventoryReport> {
    return this.transport.request<InventoryReport>('GET', '/reports/inventory', { query: reportQuery(query) });
  }

  /**
   * The keys with findings, the count of each kind of finding, and one
   * accountability line per owner.
   *
   * @example
   * const report = await client.complianceReport();
   * if (report.counts.rotation_overdue > 0) alertOnCall(report);
   */
  complianceReport(query: ReportQuery = {}): Promise<ComplianceReport> {
    return this.transport.request<ComplianceReport>('GET', '/reports/compliance', { query: reportQuery(query) });
  }

  /**
   * A report as the server renders it in `format`: `csv` (RFC 4180, a header
   * row, one row per key) or `markdown`; `json` answers the JSON text.
   *
   * @example
   * await writeFile('compliance.csv', await client.reportText('compliance', 'csv'));
   */
  reportText(report: 'inventory' | 'compliance', format: ReportFormat, query: ReportQuery = {}): Promise<string> {
    return this.transport.request<string>('GET', `/reports/${report}`, { query: { ...reportQuery(query), format }, text: true });
  }
}

const reportQuery = (query: ReportQuery): Record<string, string | undefined> => ({
  environment: query.environment,
  owner: query.owner,
  class: query.class,
});
