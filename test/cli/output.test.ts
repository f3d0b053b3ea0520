// The output layer (src/cli/output.ts) with hostile cells: tables stay one row per record and aligned on
// what the terminal shows, long cells are cut; JSON and YAML carry the same data with every unsafe code
// point escaped.
import test from 'ava';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { MAX_CELL_WIDTH, renderData, renderTable, type Column } from '../../src/cli/output.js';
import { UNSAFE_CHARS, displayWidth, safeText } from '../../src/cli/safe-text.js';

const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 300);
const HOSTILE = ['\x1b', '\x07', '\x9b', '\x85', '\x7f', '\r', '\n', '\t', '\\', '\u202e', '\u2066', '\u200b', '\u2028', '\ud800', 'a', ' ', '日', '\u0301', '😀', ':', '"', "'", '#', '-', '{', '&', '*', '!', '|', '>'];
const unit = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const text = fc.string({ unit, maxLength: 40 });
const UNSAFE_ANY = new RegExp(UNSAFE_CHARS.source, 'g');

interface Row {
  a: string;
  b: string;
  c: string;
}
const columns: Column<Row>[] = [
  { header: 'A', get: (r) => r.a },
  { header: 'B', get: (r) => r.b, tone: () => 'bad' },
  { header: 'C', get: (r) => r.c },
];

test('a table of hostile cells: one line per row, no unsafe code point, columns start at the same place', (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ a: text, b: text, c: text }), { maxLength: 5 }), (rows) => {
      const out = renderTable(columns, rows);
      const lines = out.slice(0, -1).split('\n');
      if (lines.length !== rows.length + 1 || UNSAFE_ANY.test(out.replace(/\n/g, ''))) return false;
      // Each row is its A cell, padded to the widest A (in display columns), 3 spaces, then its B cell.
      const cellsA = rows.map((r) => safeText(r.a, MAX_CELL_WIDTH));
      const widthA = Math.max(1, ...cellsA.map(displayWidth));
      return rows.every((r, i) => {
        const line = lines[i + 1]!;
        const pad = widthA - displayWidth(cellsA[i]!) + 3;
        const rest = line.slice(cellsA[i]!.length);
        return line.startsWith(cellsA[i]!) && rest.startsWith(' '.repeat(pad)) && rest.slice(pad).startsWith(safeText(r.b, MAX_CELL_WIDTH));
      });
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('alignment is by display width: escapes and wide characters', (t) => {
  const out = renderTable(columns, [
    { a: '\x1b[2J', b: 'x', c: '1' },
    { a: '日本', b: 'y', c: '2' },
  ]);
  const lines = out.trimEnd().split('\n');
  t.deepEqual(lines, ['A         B   C', '\\x1b[2J   x   1', '日本      y   2']);
});

test('a cell longer than MAX_CELL_WIDTH is cut with an ellipsis in tables; JSON and YAML keep it whole', (t) => {
  const long = 'x'.repeat(500);
  const out = renderTable(columns, [{ a: long, b: 'b', c: 'c' }]);
  t.true(out.includes(`${'x'.repeat(MAX_CELL_WIDTH - 1)}… `));
  t.false(out.includes('x'.repeat(MAX_CELL_WIDTH)));
  t.is((JSON.parse(renderData('json', [{ a: long }])) as { a: string }[])[0]!.a, long);
  t.is((parseYaml(renderData('yaml', [{ a: long }])) as { a: string }[])[0]!.a, long);
});

test('colour wraps the padded, escaped cell; the only escapes in the output are the colours', (t) => {
  const out = renderTable(columns, [{ a: 'a', b: '\x1b[2J', c: 'c' }], { colour: true });
  t.is(out.split('\n')[1], 'a   \x1b[31m\\x1b[2J\x1b[0m   c');
});

test('JSON and YAML: same data, valid syntax, no raw unsafe code point (keys too)', (t) => {
  const value = fc.array(fc.dictionary(text, fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.integer(), fc.constant(null)), { maxKeys: 4 }), { maxLength: 3 });
  fc.assert(
    fc.property(value, (v) => {
      const same = JSON.stringify(v);
      const json = renderData('json', v);
      const yaml = renderData('yaml', v);
      for (const out of [json, yaml]) if (UNSAFE_ANY.test(out.replace(/\n/g, ''))) return false;
      return JSON.stringify(JSON.parse(json)) === same && JSON.stringify(parseYaml(yaml)) === same;
    }),
    { numRuns: RUNS },
  );
  t.is(renderData('yaml', { m: 'a\x9bb\t\u202e' }), 'm: "a\\u009bb\\t\\u202e"\n');
  t.is(renderData('yaml', { 'k\x1b': 'v' }), '"k\\e": v\n');
});
