// The RBAC plan is pure: a small fleet gives exactly these roles, users and permissions (pinned).
import test from 'ava';
import { planRbac } from '../../src/rbac/plan.js';
import { grantArgs } from '../../src/rbac/render.js';
import { prefixRangeEnd } from '../../src/etcd/auth.js';

test('a two-node fleet: each node its own keys, the watcher reads all and writes watcher/, the reader reads', (t) => {
  const plan = planRbac({
    prefix: '/beacon',
    nodes: [
      { name: 'web-2', services: ['web'], dns: { prefix: '/skydns', domain: 'beacon.local', instance: 'web-2' } },
      { name: 'db-1', services: ['pg', 'metrics', 'pg'] },
    ],
  });
  t.deepEqual(plan, {
    prefix: '/beacon',
    roles: [
      {
        name: 'beacon-node-db-1',
        permissions: [
          { access: 'readwrite', key: '/beacon/v1/nodes/db-1/', prefix: true },
          { access: 'readwrite', key: '/beacon/v1/events/db-1/', prefix: true },
          { access: 'readwrite', key: '/beacon/v1/services/metrics/db-1', prefix: false },
          { access: 'readwrite', key: '/beacon/v1/services/pg/db-1', prefix: false },
        ],
      },
      {
        name: 'beacon-node-web-2',
        permissions: [
          { access: 'readwrite', key: '/beacon/v1/nodes/web-2/', prefix: true },
          { access: 'readwrite', key: '/beacon/v1/events/web-2/', prefix: true },
          { access: 'readwrite', key: '/beacon/v1/services/web/web-2', prefix: false },
          { access: 'readwrite', key: '/skydns/local/beacon/web/web-2', prefix: false },
        ],
      },
      {
        name: 'beacon-watcher',
        permissions: [
          { access: 'read', key: '/beacon/v1/', prefix: true },
          { access: 'readwrite', key: '/beacon/v1/watcher/', prefix: true },
        ],
      },
      {
        name: 'beacon-reader',
        permissions: [
          { access: 'read', key: '/beacon/v1/', prefix: true },
          { access: 'read', key: '/skydns/local/beacon/', prefix: true },
        ],
      },
    ],
    users: [
      { name: 'beacon-node-db-1', roles: ['beacon-node-db-1'] },
      { name: 'beacon-node-web-2', roles: ['beacon-node-web-2'] },
      { name: 'beacon-watcher', roles: ['beacon-watcher'] },
      { name: 'beacon-reader', roles: ['beacon-reader'] },
    ],
  });
});

test('a node prefix never covers another node whose name extends it', (t) => {
  const plan = planRbac({ prefix: '/p', nodes: [{ name: 'a', services: ['s'] }, { name: 'ab', services: ['s'] }] });
  const perms = plan.roles[0]!.permissions;
  t.deepEqual(perms.map((p) => p.key), ['/p/v1/nodes/a/', '/p/v1/events/a/', '/p/v1/services/s/a']);
  const covers = (key: string) => perms.some((p) => (p.prefix ? key.startsWith(p.key) : key === p.key));
  t.true(covers('/p/v1/nodes/a/live'));
  t.false(covers('/p/v1/services/s/ab') || covers('/p/v1/nodes/ab/live') || covers('/p/v1/events/ab/1'));
});

test('invalid or repeated node names, and invalid service names, are refused', (t) => {
  t.throws(() => planRbac({ prefix: '/p', nodes: [{ name: '../x', services: [] }] }), { instanceOf: RangeError, message: /node name "..\/x"/ });
  t.throws(() => planRbac({ prefix: '/p', nodes: [{ name: '', services: [] }] }), { instanceOf: RangeError, message: /must not be empty/ });
  t.throws(() => planRbac({ prefix: '/p', nodes: [{ name: 'a', services: [] }, { name: 'a', services: [] }] }), { message: /listed twice/ });
  t.throws(() => planRbac({ prefix: '/p', nodes: [{ name: 'a', services: ['x/y'] }] }), { message: /service name "x\/y" of node a/ });
});

test('etcdctl arguments and prefix range ends match what etcd stores', (t) => {
  t.deepEqual(grantArgs('r', { access: 'readwrite', key: '/b/v1/nodes/a/', prefix: true }), [
    'role', 'grant-permission', '--prefix=true', 'r', 'readwrite', '/b/v1/nodes/a/',
  ]);
  t.deepEqual(grantArgs('r', { access: 'read', key: '/b/v1/services/s/a', prefix: false }), ['role', 'grant-permission', 'r', 'read', '/b/v1/services/s/a']);
  t.is(prefixRangeEnd('/b/v1/nodes/a/').toString(), '/b/v1/nodes/a0');
  t.is(prefixRangeEnd('/').toString(), '0');
});
