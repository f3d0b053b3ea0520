// Just enough Markdown reading for the doc tests: fenced blocks, shell commands, pipe tables under
// their headings, and the small type notation docs/keys.md and docs/cli.md use in field tables.
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/process.js';

/** A repository doc's text, e.g. `readDoc('docs/keys.md')`. */
export function readDoc(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** One fenced code block: its language tag, body, the heading it sits under, and its first line number. */
export interface CodeBlock {
  lang: string;
  body: string;
  heading: string;
  line: number;
}

/** One pipe table: the heading it sits under, header cells and body rows (cells trimmed, raw). */
export interface Table {
  heading: string;
  headers: string[];
  rows: string[][];
  line: number;
}

/** Fenced blocks (```lang ... ```), optionally only those of one language. */
export function codeBlocks(md: string, lang?: string): CodeBlock[] {
  const out: CodeBlock[] = [];
  const lines = md.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const open = /^```(\S*)\s*$/.exec(line);
    if (!open) {
      if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (lang === undefined || open[1] === lang) out.push({ lang: open[1]!, body: body.join('\n'), heading, line: start + 1 });
  }
  return out;
}

/** The commands of a shell block: `\` continuations joined, blank and `#` comment lines dropped. */
export function shellCommands(body: string): string[] {
  const joined = body.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

// Split a table row on unescaped pipes; leading/trailing pipes are optional.
function cells(line: string): string[] {
  const parts = line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/);
  return parts.map((c) => c.trim().replace(/\\\|/g, '|'));
}

/** Every pipe table outside code blocks, with the nearest heading above it. */
export function tables(md: string): Table[] {
  const out: Table[] = [];
  const lines = md.split('\n');
  let heading = '';
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
    const next = lines[i + 1];
    if (line.trim().startsWith('|') && next !== undefined && /^\s*\|?\s*:?-{3,}/.test(next)) {
      const t: Table = { heading, headers: cells(line), rows: [], line: i + 1 };
      for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) t.rows.push(cells(lines[i]!));
      i--;
      out.push(t);
    }
  }
  return out;
}

/** The text inside the first backtick span of a cell, or the cell itself without backticks. */
export function code(cell: string): string {
  const m = /`([^`]+)`/.exec(cell);
  return (m ? m[1]! : cell).trim();
}

/** Every backtick span in a text. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** A documented key pattern (`<prefix>/v1/nodes/<node>/live`) as a regex for one concrete prefix. */
export function keyPattern(pattern: string, prefix: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const body = pattern
    .split(/(<[a-z]+>)/)
    .map((part) => (part === '<prefix>' ? esc(prefix) : /^<[a-z]+>$/.test(part) ? '[^/]+' : esc(part)))
    .join('');
  return new RegExp(`^${body}$`);
}

/**
 * Whether `value` has the documented type. Notation (backticks optional): alternatives joined by
 * " or "; each is a quoted literal (`"up"`), a number literal (`1`), `string`, `integer`, `number`,
 * `boolean`, `null`, `object`, `string[]`, `object[]` or `map of string`.
 */
export function matchesType(type: string, value: unknown): boolean {
  const alternatives = type.replace(/`/g, '').split(/\s+or\s+/).map((s) => s.trim());
  return alternatives.some((alt) => matchesOne(alt, value));
}

/** Whether a type cell uses only the notation `matchesType` knows (so a typo cannot pass silently). */
export function typeProblem(type: string): string | undefined {
  const alternatives = type.replace(/`/g, '').split(/\s+or\s+/).map((s) => s.trim());
  const bad = alternatives.filter(
    (a) => !/^("[^"]*"|-?\d+(\.\d+)?|string|integer|number|boolean|null|object|string\[\]|object\[\]|map of string)$/.test(a),
  );
  return bad.length ? `unknown type notation ${bad.map((b) => JSON.stringify(b)).join(', ')}` : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function matchesOne(alt: string, v: unknown): boolean {
  if (alt.startsWith('"')) return v === JSON.parse(alt);
  if (/^-?\d/.test(alt)) return v === Number(alt);
  switch (alt) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'object':
      return isObject(v);
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'object[]':
      return Array.isArray(v) && v.every(isObject);
    case 'map of string':
      return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
    default:
      return false;
  }
}

/** A field table (header `Field | Type | ...`) as field path → type. */
export function fieldTypes(t: Table): Map<string, string> {
  const fi = t.headers.findIndex((h) => h === 'Field');
  const ti = t.headers.findIndex((h) => h === 'Type');
  if (fi < 0 || ti < 0) throw new Error(`table at line ${t.line} has no Field/Type columns`);
  return new Map(t.rows.map((r) => [code(r[fi] ?? ''), r[ti] ?? '']));
}

/**
 * Every field path of a record that the documentation must list. Objects are descended into only
 * when the table documents some of their sub-fields (`facts.os`), arrays of objects likewise
 * (`conditions[].type`); free-form maps (`labels`) are documented as a whole.
 */
export function recordFields(record: Record<string, unknown>, documented: ReadonlySet<string>): { path: string; value: unknown }[] {
  const out: { path: string; value: unknown }[] = [];
  const walk = (obj: Record<string, unknown>, base: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const path = base ? `${base}.${k}` : k;
      out.push({ path, value: v });
      const hasChildren = (p: string) => [...documented].some((d) => d.startsWith(`${p}.`));
      if (isObject(v) && hasChildren(path)) walk(v, path);
      if (Array.isArray(v) && hasChildren(`${path}[]`)) for (const item of v) if (isObject(item)) walk(item, `${path}[]`);
    }
  };
  walk(record, '');
  return out;
}

/** The value at a documented path (`facts.os`), or undefined; `a[]` paths are not resolved. */
export function valueAt(record: Record<string, unknown>, path: string): { found: boolean; value?: unknown; parentNull?: boolean } {
  let cur: unknown = record;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    if (cur === null && i > 0) return { found: false, parentNull: true };
    if (!isObject(cur) || !(parts[i]! in cur)) return { found: false };
    cur = cur[parts[i]!];
  }
  return { found: true, value: cur };
}

/**
 * Check a record (or a JSON object a command printed) against a field table: every field it has is
 * documented, with a matching type; with `complete`, every documented field is present too (fields
 * under a null parent and `[]` paths excepted).
 */
export function checkRecord(
  t: ExecutionContext,
  docName: string,
  where: string,
  rec: Record<string, unknown>,
  table: Table,
  complete: boolean,
): void {
  const types = fieldTypes(table);
  for (const { path, value } of recordFields(rec, new Set(types.keys()))) {
    const type = types.get(path);
    if (type === undefined) {
      t.fail(`${where}: field ${path} is present but not documented in the table at ${docName}:${table.line}`);
      continue;
    }
    t.true(matchesType(type, value), `${where}: field ${path} = ${JSON.stringify(value)} is not ${type} (${docName}:${table.line})`);
  }
  if (!complete) return;
  for (const path of types.keys()) {
    if (path.includes('[]')) continue;
    const at = valueAt(rec, path);
    t.true(at.found || at.parentNull === true, `${where}: documented field ${path} is missing (${docName}:${table.line})`);
  }
}
