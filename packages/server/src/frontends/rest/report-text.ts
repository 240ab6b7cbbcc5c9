import type { ComplianceReport, InventoryReport, ReportKey } from '@keyward/wire';

/** The columns of a report's key table, in order: CSV header names and Markdown headings. */
const COLUMNS: ReadonlyArray<{ csv: string; markdown: string; value: (key: ReportKey) => string | number | null }> = [
  { csv: 'namespace', markdown: 'Namespace', value: (k) => k.namespace },
  { csv: 'name', markdown: 'Key', value: (k) => k.name },
  { csv: 'owner', markdown: 'Owner', value: (k) => k.owner },
  { csv: 'class', markdown: 'Class', value: (k) => k.class },
  { csv: 'environment', markdown: 'Environment', value: (k) => k.environment },
  { csv: 'algorithm', markdown: 'Algorithm', value: (k) => k.algorithm },
  { csv: 'state', markdown: 'State', value: (k) => k.state },
  { csv: 'primary_version', markdown: 'Primary', value: (k) => k.primaryVersion },
  { csv: 'primary_age_days', markdown: 'Age (days)', value: (k) => k.primaryAgeDays },
  { csv: 'next_rotation_at', markdown: 'Next rotation', value: (k) => k.nextRotationAt },
  { csv: 'last_used_at', markdown: 'Last use', value: (k) => k.lastUsedAt },
  { csv: 'next_review_at', markdown: 'Next review', value: (k) => k.nextReviewAt },
  { csv: 'findings', markdown: 'Findings', value: (k) => k.findings.map((f) => f.kind).join(';') },
  { csv: 'finding_details', markdown: 'Details', value: (k) => k.findings.map((f) => `${f.kind}: ${f.detail}`).join(' | ') },
];

/**
 * One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote or a
 * line break, quotes doubled. A field a spreadsheet would run as a formula
 * (starting with `=`, `+`, `-`, `@`, or a tab or carriage return, per the
 * OWASP CSV-injection advice) is prefixed with `'`, so a key owner or an
 * incident reason cannot smuggle a formula into an auditor's spreadsheet.
 */
export function csvField(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The keys of a report as CSV: a header row, then one row per key, CRLF line ends (RFC 4180). */
export function reportCsv(report: InventoryReport | ComplianceReport): string {
  const rows = [COLUMNS.map((c) => c.csv), ...report.keys.map((key) => COLUMNS.map((c) => csvField(c.value(key))))];
  return rows.map((row) => `${row.join(',')}\r\n`).join('');
}

/** A Markdown table cell: `|` escaped, line breaks folded, empty shown as `-`. */
export function markdownCell(value: string | number | null): string {
  const text = value === null || value === '' ? '-' : String(value);
  return text
    .replaceAll('\\', '\\\\')
    .replaceAll('|', '\\|')
    .replace(/\r\n|\r|\n/g, ' ');
}

const table = (headings: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string[] => [
  `| ${headings.map(markdownCell).join(' | ')} |`,
  `| ${headings.map(() => '---').join(' | ')} |`,
  ...rows.map((row) => `| ${row.map(markdownCell).join(' | ')} |`),
];

const keyTable = (keys: readonly ReportKey[]): string[] =>
  table(
    COLUMNS.filter((c) => c.csv !== 'finding_details').map((c) => c.markdown),
    keys.map((key) => COLUMNS.filter((c) => c.csv !== 'finding_details').map((c) => c.value(key))),
  );

const heading = (title: string, report: InventoryReport | ComplianceReport): string[] => [
  `# ${title}`,
  '',
  `Namespace \`${report.namespace}\`, generated ${report.generatedAt}, policy ${report.policyDigest === null ? 'defaults' : `sha256:${report.policyDigest}`}.`,
  '',
];

/** The inventory as a Markdown document: one table, a row per key. */
export function inventoryMarkdown(report: InventoryReport): string {
  return [...heading('Key inventory', report), ...keyTable(report.keys), ''].join('\n');
}

/** The compliance report as a Markdown document: counts, owners, the keys with findings, then every finding with its remedy. */
export function complianceMarkdown(report: ComplianceReport): string {
  const findings = report.keys.flatMap((key) => key.findings.map((f) => [key.name, f.kind, f.since, f.detail, f.remediation]));
  return [
    ...heading('Compliance report', report),
    `${report.keysExamined} keys examined, ${report.keys.length} with findings.`,
    '',
    '## Findings by kind',
    '',
    ...table(
      ['Finding', 'Count'],
      Object.entries(report.counts).map(([kind, count]) => [kind, count]),
    ),
    '',
    '## Owners',
    '',
    ...table(
      ['Owner', 'Keys', 'Keys with findings', 'Open findings', 'Oldest finding since'],
      report.owners.map((o) => [o.owner, o.keys, o.keysWithFindings, o.openFindings, o.oldestFindingSince]),
    ),
    '',
    '## Keys with findings',
    '',
    ...keyTable(report.keys),
    '',
    '## Findings',
    '',
    ...table(['Key', 'Finding', 'Since', 'Detail', 'Remediation'], findings),
    '',
  ].join('\n');
}
