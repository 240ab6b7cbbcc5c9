import { printable } from './printable.js';

/**
 * Lays out label/value pairs with the values aligned, one pair a line.
 *
 * @example
 * formatDetails([['Name', 'payments'], ['State', 'enabled']]);
 * // 'Name:   payments\nState:  enabled\n'
 */
export function formatDetails(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...pairs.map(([label]) => label.length + 1));
  const lines = pairs.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${printable(value)}`.trimEnd());
  return `${lines.join('\n')}\n`;
}
