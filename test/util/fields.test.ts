import test from 'ava';
import { ConfigError, ConfigErrors } from '../../src/errors.js';
import {
  Fields,
  Problems,
  cidr,
  fieldPath,
  ipAddress,
  mapKey,
  readStringMap,
  redact,
  text,
} from '../../src/util/fields.js';

// Read `raw` with `fn`, return the messages recorded.
function messages(raw: unknown, fn: (f: Fields) => void): string[] {
  const p = new Problems();
  const f = new Fields('sec', raw, p);
  fn(f);
  f.done();
  return p.list.map((e) => e.message);
}

test('typed readers return values and record wrong types with field and value', (t) => {
  const raw = { s: 'x', n: 3, d: '2s', e: 'udp', l: ['a'], bad: 5 };
  let got: unknown[] = [];
  t.deepEqual(
    messages(raw, (f) => {
      got = [f.string('s'), f.integer('n', { min: 1, max: 5 }), f.duration('d'), f.oneOf('e', ['tcp', 'udp']), f.stringList('l'), f.string('bad')];
    }),
    ['sec.bad: must be a string (got 5)'],
  );
  t.deepEqual(got, ['x', 3, 2000, 'udp', ['a'], undefined]);
});

test('out-of-range integers and durations name the bounds', (t) => {
  t.deepEqual(
    messages({ port: 0, big: 1.5, ttl: '1s', max: '2h' }, (f) => {
      f.integer('port', { min: 1, max: 65535 });
      f.integer('big', { min: 1, max: 65535 });
      f.duration('ttl', { min: 2000, why: 'because' });
      f.duration('max', { max: 3_600_000 });
    }),
    [
      'sec.port: must be a whole number from 1 to 65535 (got 0)',
      'sec.big: must be a whole number from 1 to 65535 (got 1.5)',
      'sec.ttl: must be from 2s to 596h31m23s647ms (because) (got "1s")',
      'sec.max: must be from 0s to 1h (got "2h")',
    ],
  );
});

test('unknown fields are rejected, with a suggestion when one is close', (t) => {
  t.deepEqual(
    messages({ ttll: 10, zzz: true, name: 'a' }, (f) => {
      f.duration('ttl');
      f.string('name');
    }),
    ['sec.ttll: unknown field (did you mean "ttl"?) (got 10)', 'sec.zzz: unknown field (got true)'],
  );
});

test('null reads as unset; a non-mapping section is one error, not a crash', (t) => {
  t.deepEqual(messages({ a: null }, (f) => t.is(f.string('a'), undefined)), []);
  t.deepEqual(messages(null, (f) => t.is(f.string('a'), undefined)), []);
  t.deepEqual(messages([1, 2], (f) => f.string('a')), ['sec: must be a mapping (got [1,2])']);
  t.deepEqual(messages('str', (f) => f.required('a', () => 'x', undefined)), ['sec: must be a mapping (got "str")']);
});

test('list items carry their index in the path', (t) => {
  t.deepEqual(
    messages({ l: ['a', 2, 'c'], m: [{ x: 1 }, null, 'q'] }, (f) => {
      f.stringList('l');
      for (const item of f.sections('m')) {
        item.required('y', () => 1, undefined);
        item.done();
      }
    }),
    [
      'sec.l[1]: must be a string (got 2)',
      'sec.m[1]: must be a mapping (got null)',
      'sec.m[2]: must be a mapping (got "q")',
      'sec.m[0].y: is required',
      'sec.m[0].x: unknown field (got 1)',
    ],
  );
});

test('string maps check keys and values; odd keys are quoted in the path', (t) => {
  const p = new Problems();
  const checks = { key: mapKey, value: text(5) };
  t.deepEqual(readStringMap(p, 'labels', { 'a.b/c': 'ok', zone: 'x' }, checks), { 'a.b/c': 'ok', zone: 'x' });
  t.is(readStringMap(p, 'labels', { '-bad': 'v', n: 3, long: 'toolong' }, checks), undefined);
  t.is(readStringMap(p, 'labels', ['x'], checks), undefined);
  t.deepEqual(
    p.list.map((e) => e.message),
    [
      'labels["-bad"]: key must be 1-128 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit (got "-bad")',
      'labels.n: must be a string (got 3)',
      'labels.long: must be at most 5 characters (got "toolong")',
      'labels: must be a mapping of strings to strings (got ["x"])',
    ],
  );
  t.is(fieldPath('', 'node'), 'node');
  t.is(fieldPath('a', 'b c'), 'a["b c"]');
});

test('address and CIDR checks', (t) => {
  for (const ok of ['10.0.0.1', 'fd00::1', '::1']) t.is(ipAddress(ok), undefined, ok);
  for (const bad of ['10.0.0', 'host', '0.0.0.0', '::', '10.0.0.1/8']) t.truthy(ipAddress(bad), bad);
  for (const ok of ['10.0.0.0/8', '0.0.0.0/0', 'fd00::/64', '10.1.2.3/32']) t.is(cidr(ok), undefined, ok);
  for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', 'x/8', '10.0.0.0/-1', '/8']) t.truthy(cidr(bad), bad);
});

test('secrets never reach messages', (t) => {
  t.is(redact('etcd.password', 'hunter2'), '***');
  t.is(redact('etcd.passwrod', 'hunter2'), '***');
  t.deepEqual(redact('etcd', [{ password: 'x', user: 'u' }]), [{ password: '***', user: 'u' }]);
  const p = new Problems();
  p.add('etcd.password', 12345, 'must be a string');
  t.is(p.list[0].message, 'etcd.password: must be a string (got "***")');
});

test('problems throw one ConfigError, or ConfigErrors listing all', (t) => {
  const one = new Problems();
  one.add('a', 1, 'bad');
  const e1 = t.throws(() => one.throwIfAny(), { instanceOf: ConfigError });
  t.false(e1 instanceof ConfigErrors);
  t.is(e1?.message, 'a: bad (got 1)');
  const two = new Problems();
  two.add('a', 1, 'bad');
  two.add('b', 'x', 'worse');
  const e2 = t.throws(() => two.throwIfAny(), { instanceOf: ConfigErrors });
  t.is(e2?.field, 'a');
  t.is(e2?.errors.length, 2);
  t.is(e2?.message, '2 config problems:\n  a: bad (got 1)\n  b: worse (got "x")');
  t.notThrows(() => new Problems().throwIfAny());
});
