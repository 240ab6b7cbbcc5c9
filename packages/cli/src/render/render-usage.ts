import type { UsageReport } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';

/**
 * A usage report as one row per version, principal and operation; an unused
 * version gets one row with a zero count. LAST USED is the principal's last
 * use of that version.
 *
 * @example
 * io.stdout.write(renderUsage(await client.usage('payments-db')));
 */
export function renderUsage(report: UsageReport): string {
  const rows: string[][] = [];
  for (const version of report.versions) {
    if (version.byPrincipal.length === 0) {
      rows.push([String(version.version), version.state, '-', '-', '0', '-']);
      continue;
    }
    for (const entry of version.byPrincipal) {
      for (const [operation, count] of Object.entries(entry.operations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        rows.push([String(version.version), version.state, entry.principal, operation, String(count), entry.lastUsedAt]);
      }
    }
  }
  const details = formatDetails([
    ['Key', report.key],
    ['Since', report.since ?? 'the key was created'],
  ]);
  return `${details}\n${formatTable(['VERSION', 'STATE', 'PRINCIPAL', 'OPERATION', 'COUNT', 'LAST USED'], rows)}`;
}
