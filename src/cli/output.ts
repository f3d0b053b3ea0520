// The output layer: every view is rows of named columns, rendered as a table (or a wide table), JSON or YAML.
import type { Writable } from 'node:stream';
import { stringify as toYaml } from 'yaml';

/** How a cell reads at a glance; coloured only on a terminal. */
export type Tone = 'good' | 'warn' | 'bad';

/** One column of a table view: header and how to get the cell from a row. */
export interface Column<T> {
  header: string;
  get(row: T): string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  /** Colour of the cell on a terminal. */
  tone?(row: T): Tone | undefined;
}

/** How a table is rendered. */
export interface TableOptions {
  /** Include `wide` columns. */
  wide?: boolean;
  /** Colour cells with a tone (only for a terminal). */
  colour?: boolean;
}

const COLOURS: Record<Tone, string> = { good: '\x1b[32m', warn: '\x1b[33m', bad: '\x1b[31m' };

/** Render rows as an aligned text table (colour only when asked: safe for pipes by default). */
export function renderTable<T>(allColumns: Column<T>[], rows: T[], opts: TableOptions = {}): string {
  const columns = allColumns.filter((c) => opts.wide || !c.wide);
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const paint = (v: string, tone: Tone | undefined) => (opts.colour && tone ? `${COLOURS[tone]}${v}\x1b[0m` : v);
  const line = (vals: string[], row?: T) =>
    vals
      .map((v, i) => {
        const padded = i === vals.length - 1 ? v : v.padEnd(widths[i]!);
        return row === undefined ? padded : paint(padded, columns[i]!.tone?.(row));
      })
      .join('   ');
  return [line(columns.map((c) => c.header)), ...cells.map((c, i) => line(c, rows[i]))].join('\n') + '\n';
}

/** Whether to colour output for `out`: a terminal, and NO_COLOR not set (https://no-color.org). */
export function useColour(out: Writable, env: NodeJS.ProcessEnv = process.env): boolean {
  return (out as Partial<NodeJS.WriteStream>).isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Serialise structured output: pretty JSON, or YAML (same data, same field names). */
export function renderData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'yaml' ? toYaml(data) : `${JSON.stringify(data, null, 2)}\n`;
}

/** Output formats every view supports. */
export const FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
/** One of FORMATS. */
export type Format = (typeof FORMATS)[number];

/** Parse `-o`; undefined means table. Returns an error message for unknown formats. */
export function parseFormat(value: unknown): Format | { error: string } {
  if (value === undefined) return 'table';
  if (typeof value === 'string' && (FORMATS as readonly string[]).includes(value)) return value as Format;
  return { error: `unknown output format ${JSON.stringify(value)} (expected ${FORMATS.join('|')})` };
}

/** Write a view in the chosen format: JSON (and YAML, the same data) is the stable shape for scripts. */
export function writeView<T>(out: Writable, format: Format, columns: Column<T>[], rows: T[], json: (row: T) => unknown): void {
  if (format === 'json' || format === 'yaml') out.write(renderData(format, rows.map(json)));
  else out.write(renderTable(columns, rows, { wide: format === 'wide', colour: useColour(out) }));
}
