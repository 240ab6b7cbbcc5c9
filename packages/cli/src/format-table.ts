import { printable } from './printable.js';

const GAP = '  ';

/**
 * Lays out rows under headers in left-aligned columns separated by two
 * spaces, without trailing spaces. Cells are made printable first.
 *
 * @example
 * formatTable(['NAME', 'STATE'], [['payments', 'enabled']]);
 * // 'NAME      STATE\npayments  enabled\n'
 */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cells = [headers, ...rows].map((row) => headers.map((_, column) => printable(row[column] ?? '')));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const lines = cells.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join(GAP)
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
