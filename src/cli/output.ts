// The output layer: every view is rows of named columns, rendered as a table or as JSON.
import type { Writable } from 'node:stream';

/** One column of a table view: header and how to get the cell from a row. */
export interface Column<T> {
  header: string;
  get(row: T): string;
}

/** Render rows as an aligned plain-text table (no colour; safe for pipes). */
export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!))).join('   ');
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Output formats every view supports. */
export const FORMATS = ['table', 'json'] as const;
/** One of FORMATS. */
export type Format = (typeof FORMATS)[number];

/** Parse `-o`; undefined means table. Returns an error message for unknown formats. */
export function parseFormat(value: unknown): Format | { error: string } {
  if (value === undefined) return 'table';
  if (typeof value === 'string' && (FORMATS as readonly string[]).includes(value)) return value as Format;
  return { error: `unknown output format ${JSON.stringify(value)} (expected ${FORMATS.join('|')})` };
}

/** Write a view in the chosen format: JSON is the stable shape for scripts. */
export function writeView<T>(out: Writable, format: Format, columns: Column<T>[], rows: T[], json: (row: T) => unknown): void {
  if (format === 'json') out.write(`${JSON.stringify(rows.map(json), null, 2)}\n`);
  else out.write(renderTable(columns, rows));
}
