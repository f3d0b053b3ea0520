import test from 'ava';
import { ConfigError } from '../../src/errors.js';
import { formatDuration, parseDuration } from '../../src/util/duration.js';

test('parses unit strings into milliseconds', (t) => {
  const cases: [string, number][] = [
    ['10s', 10_000],
    ['500ms', 500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['1.1s', 1100],
    [' 2s ', 2000],
    ['0s', 0],
  ];
  for (const [text, ms] of cases) t.is(parseDuration(text, 'f'), ms, text);
});

test('plain numbers and numeric strings are seconds', (t) => {
  t.is(parseDuration(10, 'f'), 10_000);
  t.is(parseDuration(0.25, 'f'), 250);
  t.is(parseDuration(2.5, 'f'), 2500);
  t.is(parseDuration('3', 'f'), 3000);
  t.is(parseDuration('0.5', 'f'), 500);
});

test('rejects non-durations with a ConfigError naming the field and value', (t) => {
  const bad: unknown[] = ['', 'abc', '10x', '1m30', 's', '-1s', '1e3s', '10 s', '1S', '.5s', true, null, [], {}, NaN, Infinity];
  for (const value of bad) {
    const err = t.throws(() => parseDuration(value, 'node.ttl'), { instanceOf: ConfigError }, String(value));
    t.is(err?.field, 'node.ttl');
    t.true(err?.message.startsWith('node.ttl: '), err?.message);
  }
});

test('negative numbers and sub-millisecond precision are refused', (t) => {
  t.regex(t.throws(() => parseDuration(-1, 'x'), { instanceOf: ConfigError })!.message, /x: must not be negative \(got -1\)/);
  t.regex(t.throws(() => parseDuration('1.5ms', 'x'), { instanceOf: ConfigError })!.message, /whole number of milliseconds/);
  t.regex(t.throws(() => parseDuration(0.0001, 'x'), { instanceOf: ConfigError })!.message, /whole number of milliseconds/);
  t.throws(() => parseDuration(1e300, 'x'), { instanceOf: ConfigError, message: /too large/ });
});

test('formatDuration writes what parseDuration reads', (t) => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [2000, '2s'],
    [2500, '2s500ms'],
    [90_000, '1m30s'],
    [3_723_004, '1h2m3s4ms'],
  ];
  for (const [ms, text] of cases) {
    t.is(formatDuration(ms), text);
    t.is(parseDuration(text, 'f'), ms);
  }
});
