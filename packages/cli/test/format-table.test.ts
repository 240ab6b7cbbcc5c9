import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDetails } from '../src/format-details.js';
import { formatTable } from '../src/format-table.js';
import { printable } from '../src/printable.js';

describe('formatTable', () => {
  it('aligns columns two spaces apart without trailing spaces', () => {
    expect(
      formatTable(
        ['NAME', 'STATE', 'V'],
        [
          ['payments-db', 'enabled', '1'],
          ['k', 'pending_deletion', ''],
        ],
      ),
    ).toBe('NAME         STATE             V\npayments-db  enabled           1\nk            pending_deletion\n');
  });

  it('prints headers alone for no rows and fills missing cells', () => {
    expect(formatTable(['A', 'B'], [])).toBe('A  B\n');
    expect(formatTable(['A', 'B'], [['x']])).toBe('A  B\nx\n');
  });

  it('starts every column at the same offset on every line', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', '-', '.'), maxLength: 12 });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell), { maxLength: 8 }), (rows) => {
        const lines = formatTable(['ONE', 'TWO', 'THREE'], rows).trimEnd().split('\n');
        const second = (lines[0] ?? '').indexOf('TWO');
        rows.forEach((row, i) => {
          expect((lines[i + 1] ?? '').slice(second).startsWith(row[1])).toBe(true);
          expect(lines[i + 1]).toBe(lines[i + 1]?.trimEnd());
        });
      }),
    );
  });

  it('escapes control characters from the server', () => {
    expect(formatTable(['X'], [['a\u001b[2Jb\nc']])).toBe('X\na\\u001b[2Jb\\u000ac\n');
  });
});

describe('formatDetails', () => {
  it('aligns values after the labels', () => {
    expect(
      formatDetails([
        ['Name', 'payments'],
        ['Primary version', '2'],
        ['Empty', ''],
      ]),
    ).toBe('Name:             payments\nPrimary version:  2\nEmpty:\n');
  });
});

describe('printable', () => {
  it('keeps tabs and ordinary text, escapes the rest', () => {
    expect(printable('a\tb ü')).toBe('a\tb ü');
    expect(printable('\u0007\u009b')).toBe('\\u0007\\u009b');
  });
});
