// Hostile kernel lines: lines are bounded before matching, the shipped patterns have no nested
// quantifiers (the shape that backtracks catastrophically), and adversarial lines run in linear time.
// Timings are measured and logged; the asserted bound is deliberately generous (loaded CI machines).
import test from 'ava';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { LineSplitter, MAX_LINE_BYTES } from '../../src/problems/lines.js';
import { MAX_LINE_CHARS, loadRules, matchingRules, type Rule } from '../../src/problems/rules.js';
import { KERNEL_MONITOR } from './util.js';

// BEACON_PROP_RUNS=5000 for a longer hunt; CI keeps the default fast.
const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 300);

/**
 * Quantified groups that contain a quantifier ((a+)+, (a|b*)*, (x?)+...), found by a small scanner:
 * escapes and character classes are skipped, `(?:`/`(?<n>`/lookarounds are groups, `?` after a group
 * is bounded (0 or 1) and so harmless. Returns the offending group texts.
 */
export function nestedQuantifiers(pattern: string): string[] {
  const out: string[] = [];
  const stack: { start: number; quantified: boolean }[] = [];
  let lastGroupInner = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, quantified: false });
      if (pattern[i + 1] === '?') i += pattern[i + 2] === '<' && /[=!]/.test(pattern[i + 3] ?? '') ? 3 : 2;
      continue;
    }
    const isQuant = c === '*' || c === '+' || c === '{' || (c === '?' && pattern[i - 1] !== '(');
    if (c === ')') {
      const g = stack.pop();
      lastGroupInner = g?.quantified ?? false;
      const next = pattern[i + 1];
      if (lastGroupInner && (next === '*' || next === '+' || next === '{')) out.push(pattern.slice(g!.start, i + 2));
      // A group's quantifiers count for its parent too.
      if (lastGroupInner && stack.length) stack[stack.length - 1]!.quantified = true;
      continue;
    }
    if (isQuant && stack.length) stack[stack.length - 1]!.quantified = true;
  }
  return out;
}

test('the scanner finds the classic catastrophic shapes and passes the harmless ones', (t) => {
  for (const bad of ['(a+)+', '(?:a*)*', '(a|b+)*c', '(?:x?){2,}', '((ab)*)+']) t.true(nestedQuantifiers(bad).length > 0, bad);
  for (const ok of ['(?:a+)?b', 'a+b*', '[(+*)]+', '\\(.+\\)', '(?:INFO: )?task [\\S ]+:\\d+', '(a)+']) t.deepEqual(nestedQuantifiers(ok), [], ok);
});

test('the shipped rule file has no nested quantifiers', async (t) => {
  const rules = await loadRules(KERNEL_MONITOR);
  t.true(rules.rules.length > 5);
  for (const r of rules.rules) t.deepEqual(nestedQuantifiers(r.pattern), [], `${r.field}: ${r.pattern}`);
});

test('LineSplitter: any chunking of any bytes yields lines of at most MAX_LINE_BYTES and bounded pending data', (t) => {
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 3000 }),
    fc.integer({ min: 1, max: 20_000 }).map((n) => new Uint8Array(n).fill(0x41)), // newline-free floods
    fc.constant(Uint8Array.of(0x0a)),
  );
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 20 }), (chunks) => {
      const s = new LineSplitter();
      for (const c of chunks) {
        for (const line of s.push(Buffer.from(c))) {
          // Each kept byte decodes to at most one UTF-16 unit (invalid bytes become U+FFFD).
          if (line.length > MAX_LINE_BYTES) throw new Error(`line of ${line.length} characters`);
          if (line.includes('\n')) throw new Error('line holds a newline');
        }
        if (s.pending > MAX_LINE_BYTES) throw new Error(`pending ${s.pending}`);
      }
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('matchingRules never throws on any string and only looks at the first MAX_LINE_CHARS characters', async (t) => {
  const { rules } = await loadRules(KERNEL_MONITOR);
  const match = 'EXT4-fs error (device sda1): bad block';
  t.is(matchingRules(rules, match).length, 1);
  // A match beyond the cut is not seen: the line is cut before any regex runs.
  t.deepEqual(matchingRules(rules, `${'x'.repeat(MAX_LINE_CHARS)}\n${match}`), []);
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 6000 }), (line) => void matchingRules(rules, line)), { numRuns: RUNS });
  t.pass();
});

// Lines built to make each shipped pattern work hard: its own prefix, then long runs of what its
// quantifiers accept, with the required suffix missing so every attempt fails at the end.
function adversarial(n: number): string[] {
  const r = (s: string) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
  return [
    `Killed process 1 (${r('(x) ')}`,
    `Out of memory: Killed process 1 (${r(') total-vm:1kB, ')}`,
    `task ${r(' :1 blocked')}`,
    `INFO: task ${r('a:1')} blocked for more than x seconds.`,
    `unregister_netdevice: waiting for ${r('x')} to become free. Usage count = x`,
    `BUG: unable to handle kernel NULL pointer dereference at${r(' ')}`.slice(0, n),
    `divide error: 0000 [#${r('1')}`,
    `blk_update_request: I/O error, dev ${r('sda, sector ')}`,
    `XFS ${r(' Shutting down filesystem')}!!`,
    `${r(': ')}Remounting filesystem read-onlx`,
    `EXT4-fs (${r('sda1) re-mounted ')}`,
    `EDAC MC0: ${r('1 ')}CE memory read erro`,
    r('\u{1F600}a '),
    r('\\(.*+?[]{}'),
  ];
}

function timeLines(rules: readonly Rule[], lines: string[]): number {
  const t0 = performance.now();
  for (const l of lines) matchingRules(rules, l);
  return performance.now() - t0;
}

test('10,000 adversarial lines go through every shipped rule in linear time (measured)', async (t) => {
  const { rules } = await loadRules(KERNEL_MONITOR);
  const long = adversarial(8_000); // longer than the cut: what the matcher sees is MAX_LINE_CHARS
  const lines = Array.from({ length: 10_000 }, (_, i) => long[i % long.length]!);
  timeLines(rules, lines.slice(0, 200)); // warm up the regex compiler
  const total = timeLines(rules, lines);
  const perLineUs = (total * 1000) / lines.length;
  // Scaling: the same shapes at 1/8 of the length should take about 1/8 of the time, not 1/64.
  const short = adversarial(MAX_LINE_CHARS / 8);
  const longCut = adversarial(MAX_LINE_CHARS);
  const reps = 300;
  const tShort = timeLines(rules, Array.from({ length: reps * short.length }, (_, i) => short[i % short.length]!));
  const tLong = timeLines(rules, Array.from({ length: reps * longCut.length }, (_, i) => longCut[i % longCut.length]!));
  const ratio = tLong / tShort;
  t.log(`10,000 adversarial lines × ${rules.length} rules: ${total.toFixed(0)} ms (${perLineUs.toFixed(1)} µs/line)`);
  t.log(`8× longer lines took ${ratio.toFixed(1)}× the time (linear ≈ 8, quadratic ≈ 64)`);
  // Generous: catastrophic backtracking on a 4 KiB line takes seconds per line, not microseconds.
  t.true(total < 20_000, `${total} ms`);
  t.true(ratio < 40, `scaling ratio ${ratio}`);
});
