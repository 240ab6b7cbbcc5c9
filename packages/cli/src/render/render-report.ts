import type { ComplianceReport, InventoryReport, ReportKey } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';
import { printable } from '../printable.js';

const orDash = (value: string | number | null): string => (value === null ? '-' : String(value));

const header = (report: InventoryReport | ComplianceReport): Array<[string, string]> => [
  ['Namespace', report.namespace],
  ['Generated', report.generatedAt],
  ['Policy', report.policyDigest === null ? 'defaults' : `sha256:${report.policyDigest}`],
];

const keyRows = (keys: readonly ReportKey[]): string[][] =>
  keys.map((k) => [
    k.name,
    k.owner,
    k.class,
    k.environment,
    k.algorithm,
    k.state,
    orDash(k.primaryAgeDays),
    orDash(k.nextRotationAt),
    orDash(k.lastUsedAt),
    k.findings.length === 0 ? '-' : k.findings.map((f) => f.kind).join(','),
  ]);

const KEY_HEADERS = ['NAME', 'OWNER', 'CLASS', 'ENV', 'ALGORITHM', 'STATE', 'AGE (D)', 'NEXT ROTATION', 'LAST USED', 'FINDINGS'];

/**
 * The inventory as one row per key (AGE is the primary version's, in days).
 *
 * @example
 * io.stdout.write(renderInventory(await client.inventoryReport()));
 */
export function renderInventory(report: InventoryReport): string {
  return `${formatDetails([...header(report), ['Keys', String(report.keys.length)]])}\n${formatTable(KEY_HEADERS, keyRows(report.keys))}`;
}

/**
 * The compliance report: counts per kind of finding, one line per owner,
 * then every finding with what to do about it.
 *
 * @example
 * io.stdout.write(renderCompliance(await client.complianceReport()));
 */
export function renderCompliance(report: ComplianceReport): string {
  const details = formatDetails([
    ...header(report),
    ['Keys examined', String(report.keysExamined)],
    ['With findings', String(report.keys.length)],
  ]);
  const counts = formatTable(
    ['FINDING', 'COUNT'],
    Object.entries(report.counts).map(([kind, count]) => [kind, String(count)]),
  );
  const owners = formatTable(
    ['OWNER', 'KEYS', 'WITH FINDINGS', 'OPEN FINDINGS', 'OLDEST SINCE'],
    report.owners.map((o) => [o.owner, String(o.keys), String(o.keysWithFindings), String(o.openFindings), orDash(o.oldestFindingSince)]),
  );
  const findings = report.keys.flatMap((key) => key.findings.map((f) => ({ key: key.name, ...f })));
  const table = formatTable(
    ['KEY', 'FINDING', 'SINCE', 'DETAIL'],
    findings.map((f) => [f.key, f.kind, orDash(f.since), f.detail]),
  );
  const remedies = findings.map((f) => `${printable(f.key)} (${f.kind}): ${printable(f.remediation)}\n`).join('');
  return `${details}\n${counts}\n${owners}${findings.length === 0 ? '' : `\n${table}\nRemediation:\n${remedies}`}`;
}
