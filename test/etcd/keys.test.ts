import test from 'ava';
import { Keys, isValidName, normalizePrefix } from '../../src/etcd/keys.js';

test('builds the documented layout', (t) => {
  const k = new Keys('/beacon');
  t.is(k.live('node1'), '/beacon/v1/nodes/node1/live');
  t.is(k.identity('node1'), '/beacon/v1/nodes/node1/identity');
  t.is(k.service('web'), '/beacon/v1/services/web/');
  t.is(k.endpoint('web', 'node1'), '/beacon/v1/services/web/node1');
  t.is(k.status('node1'), '/beacon/v1/watcher/status/node1');
});

test('normalises prefixes', (t) => {
  t.is(normalizePrefix('beacon/'), '/beacon');
  t.is(normalizePrefix('/a/b//'), '/a/b');
  t.is(new Keys('/').root, '/v1/');
});

test('parse inverts the builders and rejects foreign keys', (t) => {
  const k = new Keys('/p');
  t.deepEqual(k.parse(k.live('n-1')), { kind: 'live', node: 'n-1' });
  t.deepEqual(k.parse(k.endpoint('web', 'n1')), { kind: 'endpoint', service: 'web', node: 'n1' });
  t.deepEqual(k.parse('/p/v1/nodes/../live'), { kind: 'unknown' });
  t.deepEqual(k.parse('/p/v2/nodes/a/live'), { kind: 'unknown' });
  t.deepEqual(k.parse('/p/v1/services/web/a/b'), { kind: 'unknown' });
});

test('refuses names that could escape their segment', (t) => {
  for (const bad of ['', '..', 'a/b', '../x', '.hidden', 'a..b', 'x'.repeat(300)]) {
    t.false(isValidName(bad), bad);
  }
  t.throws(() => new Keys().live('a/b'), { instanceOf: RangeError });
  t.true(isValidName('node-1.example_com'));
});
