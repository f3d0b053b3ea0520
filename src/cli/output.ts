// The output layer: every view is rows of named columns, rendered as a table (or a wide table), JSON or YAML.
// Record text is untrusted: cells are escaped (safe-text.ts) before widths are measured, JSON and YAML
// escape what their serialisers leave raw. Nothing from etcd reaches a terminal as a control sequence.
import type { Writable } from 'node:stream';
import { Document, visit } from 'yaml';
import { DecodeError } from '../errors.js';
import { displayWidth, escapeJson, hasUnsafe, padDisplay, safeText, UNSAFE_CHARS } from './safe-text.js';

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
  /** Cut cells wider than this (default MAX_CELL_WIDTH); a view whose cells are its message (doctor's fixes) passes Infinity. */
  maxCellWidth?: number;
}

const COLOURS: Record<Tone, string> = { good: '\x1b[32m', warn: '\x1b[33m', bad: '\x1b[31m' };

/** A table cell wider than this many columns is cut, ending in `…` (JSON and YAML are never cut). */
export const MAX_CELL_WIDTH = 80;

/** `text` in a terminal colour for `tone` (the only escape sequences beacon prints are its own). */
export function paint(text: string, tone: Tone | undefined, colour: boolean): string {
  return colour && tone ? `${COLOURS[tone]}${text}\x1b[0m` : text;
}

/** Render rows as an aligned text table (colour only when asked: safe for pipes by default). */
export function renderTable<T>(allColumns: Column<T>[], rows: T[], opts: TableOptions = {}): string {
  const columns = allColumns.filter((c) => opts.wide || !c.wide);
  // Escaped first, then measured: the widths are those of what the terminal shows.
  const cells = rows.map((r) => columns.map((c) => safeText(c.get(r), opts.maxCellWidth ?? MAX_CELL_WIDTH)));
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...cells.map((row) => displayWidth(row[i]!))));
  const line = (vals: string[], row?: T) =>
    vals
      .map((v, i) => {
        const padded = i === vals.length - 1 ? v : padDisplay(v, widths[i]!);
        return row === undefined ? padded : paint(padded, columns[i]!.tone?.(row), opts.colour === true);
      })
      .join('   ');
  return [line(columns.map((c) => c.header)), ...cells.map((c, i) => line(c, rows[i]))].join('\n') + '\n';
}

/** Whether to colour output for `out`: a terminal, and NO_COLOR not set (https://no-color.org). */
export function useColour(out: Writable, env: NodeJS.ProcessEnv = process.env): boolean {
  return (out as Partial<NodeJS.WriteStream>).isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Serialise structured output: pretty JSON, or YAML (same data, same field names); see toJson and toYaml. */
export function renderData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'yaml' ? toYaml(data) : `${toJson(data, 2)}\n`;
}

/** JSON (pretty with `indent`, else one line) with DEL, C1, bidi and zero-width code points as `\u` escapes. */
export function toJson(data: unknown, indent?: number): string {
  return escapeJson(JSON.stringify(data, null, indent));
}

const UNSAFE_GLOBAL = new RegExp(UNSAFE_CHARS.source, 'g');

/**
 * YAML with every string holding an unsafe code point double-quoted (keys too), and those code points
 * written as `\u` escapes: the yaml library escapes ESC and CR, but leaves C1, DEL, TAB and bidi raw (even
 * inside double quotes). Outside double-quoted scalars YAML output is ASCII syntax, so the replacement can
 * only land inside one, where `\uXXXX` means that very code point. Multi-line text stays a block scalar.
 */
export function toYaml(data: unknown): string {
  const doc = new Document(data);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && hasUnsafe(node.value.replaceAll('\n', ''))) node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString().replace(UNSAFE_GLOBAL, (c) => (c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
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

/** Longest key shown in a skipped-record warning (a key can be as long as etcd allows). */
const MAX_KEY_WIDTH = 300;

/**
 * One stderr line per record a view skipped (`warning: skipped KEY: REASON`). The key comes from etcd: it is
 * escaped here, from the raw key (DecodeError's message has it escaped for logs already; escaping that
 * again would show `\\u001b`).
 */
export function writeSkipped(err: Writable, errors: readonly Error[]): void {
  for (const e of errors) {
    const text = e instanceof DecodeError ? `${safeText(e.key, MAX_KEY_WIDTH)}: ${safeText(e.problem)}` : safeText(e.message);
    err.write(`warning: skipped ${text}\n`);
  }
}

/** What a table view says when it has no row (kubectl's "No resources found"). */
export interface EmptyNote {
  stderr: Writable;
  /** `no nodes found under /beacon`. */
  message: string;
}

/**
 * Write a view in the chosen format: JSON (and YAML, the same data) is the stable shape for scripts. A table
 * with no row prints no bare header: `empty.message` on stderr instead (a wrong --prefix reads as one), and
 * the exit code stays 0. JSON and YAML print their empty list, and nothing on stderr.
 */
export function writeView<T>(out: Writable, format: Format, columns: Column<T>[], rows: T[], json: (row: T) => unknown, empty?: EmptyNote): void {
  if (format === 'json' || format === 'yaml') out.write(renderData(format, rows.map(json)));
  else if (rows.length === 0 && empty) empty.stderr.write(`${empty.message}\n`);
  else out.write(renderTable(columns, rows, { wide: format === 'wide', colour: useColour(out) }));
}
