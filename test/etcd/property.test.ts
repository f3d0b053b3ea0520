// Property-based: no name, however hostile (`../`, `/`, empty, unicode, control characters), yields a
// key outside its place under the prefix; names the config accepts round-trip through Keys.parse.
import test from 'ava';
import fc from 'fast-check';
import { Keys, isValidName, nameProblem } from '../../src/etcd/keys.js';

// BEACON_PROP_RUNS=5000 for a longer hunt; CI keeps the default fast.
const RUNS = Number(process.env.BEACON_PROP_RUNS ?? 500);

const TRICKS = ['', '.', '..', '/', '../', '../..', '../../etc/passwd', 'a/../b', 'a/b', '/a', 'a/', '..a', 'a..', '\u0000', ' ', 'a b',
  'ünïcödé', '\u202e', 'a\nb', '%2e%2e', '..\\..', 'a'.repeat(254), '*', '\u2215', '\uff0f'];
const name = fc.oneof(
  fc.constantFrom(...TRICKS),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('a', '.', '/', '-', '_', '0', '\\'), maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
);
const prefix = fc.constantFrom('/beacon', '/t', '/a/b', 'beacon', '/x-1/');

type Builder = [string, (k: Keys, s: string) => string, string];
// Each single-name builder, with the parent prefix the key must stay directly under.
const builders: Builder[] = [
  ['live', (k, s) => k.live(s), 'nodes'],
  ['identity', (k, s) => k.identity(s), 'nodes'],
  ['conditions', (k, s) => k.conditions(s), 'nodes'],
  ['maintenance', (k, s) => k.maintenance(s), 'nodes'],
  ['status', (k, s) => k.status(s), 'watcher'],
  ['endpoint', (k, s) => k.endpoint(s, s), 'services'],
  ['event', (k, s) => k.event(s, s), 'events'],
];

test('every key built from any name is a RangeError or lies under its own prefix with the name as whole segments', (t) => {
  fc.assert(
    fc.property(prefix, name, (p, s) => {
      const keys = new Keys(p);
      for (const [what, build, parent] of builders) {
        let key: string;
        try {
          key = build(keys, s);
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          if (!(s === '' || s === '.' || s === '..' || s.includes('/'))) throw new Error(`${what}: refused ${JSON.stringify(s)} for no reason`);
          continue;
        }
        const under = `${keys.root}${parent}/`;
        if (!key.startsWith(under)) throw new Error(`${what}(${JSON.stringify(s)}) = ${key} is outside ${under}`);
        const segs = key.slice(under.length).split('/');
        if (segs.some((x) => x === '' || x === '.' || x === '..')) throw new Error(`${what}(${JSON.stringify(s)}) = ${key} has a path trick`);
      }
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('names the config accepts are plain segments and round-trip through parse; the rest are refused with a reason', (t) => {
  fc.assert(
    fc.property(prefix, name, (p, s) => {
      const problem = nameProblem(s);
      if (problem !== undefined) {
        if (isValidName(s)) throw new Error(`${JSON.stringify(s)}: valid but nameProblem says ${problem}`);
        return;
      }
      if (!/^[A-Za-z0-9._-]{1,253}$/.test(s) || s.includes('..')) throw new Error(`accepted ${JSON.stringify(s)}`);
      const keys = new Keys(p);
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      if (!same(keys.parse(keys.live(s)), { kind: 'live', node: s })) throw new Error(`live(${s}) does not parse back`);
      if (!same(keys.parse(keys.endpoint(s, s)), { kind: 'endpoint', service: s, node: s })) throw new Error(`endpoint(${s}) does not parse back`);
      if (!same(keys.parse(keys.status(s)), { kind: 'status', node: s })) throw new Error(`status(${s}) does not parse back`);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('the path tricks of the issue are refused by the config check with a clear reason', (t) => {
  for (const s of ['', '/', '../', '..', '.', 'a/b', '../../etc', 'a..b']) {
    t.truthy(nameProblem(s), JSON.stringify(s));
  }
  t.is(nameProblem(''), 'must not be empty');
  t.is(nameProblem('../x'), 'must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".."');
});
