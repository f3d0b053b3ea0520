// The escape every human printer uses (src/cli/safe-text.ts), property-based: whatever a record holds, the
// escaped text has no code point a terminal acts on, reads back to exactly what was stored (so escaping
// cannot make two different values look alike), and a cut cell stays within its width.
import test from 'ava';
import fc from 'fast-check';
import { UNSAFE_CHARS, displayWidth, escapeJson, safeLines, safeText } from '../../src/cli/safe-text.js';

// BEACON_PROP_RUNS=5000 for a longer hunt; CI keeps the default fast.
const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 500);

// Hostile code points are over-represented; any UTF-16 unit (lone surrogates included) and any code point too.
const HOSTILE = ['\x1b', '\x07', '\x00', '\x9b', '\x85', '\x7f', '\r', '\n', '\t', '\\', '\u202e', '\u2066', '\u200b', '\u200f', '\u2028', '\ufeff', '\u061c', '\ud800', '\udfff', 'x', '[', ']', '0', ';', '日', '\u0301', '😀', 'u', 'n'];
const unit = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);
const text = fc.string({ unit, maxLength: 60 });

// Reading the escaped text back, as a person (or a script) would: the inverse of safeText.
function unescape(s: string): string {
  return s.replace(/\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.))/g, (_m, x?: string, u?: string, c?: string) => {
    if (x) return String.fromCharCode(parseInt(x, 16));
    if (u) return String.fromCharCode(parseInt(u, 16));
    return c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '\\' ? '\\' : `\\${c}`;
  });
}

const UNSAFE_ANY = new RegExp(UNSAFE_CHARS.source, 'g');

test('escaped text holds no control, C1, bidi, zero-width code point or lone surrogate', (t) => {
  fc.assert(
    fc.property(text, (s) => {
      const out = safeText(s);
      return !UNSAFE_CHARS.test(out) && !/[\u0000-\u001f\u007f-\u009f]/.test(out);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('escaping is injective: the escaped text reads back to exactly what was stored', (t) => {
  fc.assert(fc.property(text, (s) => unescape(safeText(s)) === s), { numRuns: RUNS });
  fc.assert(fc.property(text, text, (a, b) => a === b || safeText(a) !== safeText(b)), { numRuns: RUNS });
  t.pass();
});

test('a cut cell fits its width, ends in an ellipsis, and is a prefix of the whole escaped text', (t) => {
  fc.assert(
    fc.property(text, fc.integer({ min: 2, max: 40 }), (s, max) => {
      const whole = safeText(s);
      const out = safeText(s, max);
      if (displayWidth(whole) <= max) return out === whole;
      return out.endsWith('…') && displayWidth(out) <= max && whole.startsWith(out.slice(0, -1)) && !UNSAFE_CHARS.test(out);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('the escapes a reader sees', (t) => {
  t.is(safeText('\x1b[2J\x1b]0;title\x07'), '\\x1b[2J\\x1b]0;title\\x07');
  t.is(safeText('a\r\nb\tc'), 'a\\r\\nb\\tc');
  t.is(safeText('\x9b31m\x7f'), '\\x9b31m\\x7f');
  t.is(safeText('\u202egnp.exe\u2066\u200b'), '\\u202egnp.exe\\u2066\\u200b');
  t.is(safeText('C:\\x1b'), 'C:\\\\x1b', 'a stored backslash is doubled, so it cannot pose as an escape');
  t.is(safeText('\ud800'), '\\ud800', 'a lone surrogate is shown, not replaced');
  t.is(safeText('plain text, 日本語 😀'), 'plain text, 日本語 😀', 'ordinary text is untouched');
  t.is(safeText('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
  t.is(safeText('\x1b\x1b\x1b', 9), '\\x1b\\x1b…', 'never cut inside an escape');
  t.is(safeLines('line one\x1b\nline two\r'), 'line one\\x1b\nline two\\r');
  t.is(displayWidth('日本'), 4);
  t.is(displayWidth('e\u0301'), 1);
});

test('escapeJson: valid JSON, the same data, and no raw DEL, C1, bidi or zero-width code point', (t) => {
  const value = fc.dictionary(text, fc.oneof(text, fc.array(text, { maxLength: 3 })), { maxKeys: 4 });
  fc.assert(
    fc.property(value, fc.boolean(), (v, pretty) => {
      const out = escapeJson(JSON.stringify(v, null, pretty ? 2 : undefined));
      const raw = out.replace(/\n/g, '');
      return JSON.stringify(JSON.parse(out)) === JSON.stringify(v) && !UNSAFE_ANY.test(raw);
    }),
    { numRuns: RUNS },
  );
  t.is(escapeJson(JSON.stringify({ a: '\x9b\u202e' })), '{"a":"\\u009b\\u202e"}');
});
