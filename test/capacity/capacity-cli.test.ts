// `beacon capacity` over records put by hand (real etcd, real CLI process): the JSON shape, untrusted
// text escaped, records that fail the schema skipped with a warning, bad flags refused with exit 2.
import test from 'ava';
import { EtcdCluster, putRaw } from '../helpers/etcd.js';
import { beacon } from '../helpers/process.js';
import { liveRecord, usageRecord } from '../helpers/records.js';
import { assertNoRawControl } from '../helpers/terminal.js';
import { Keys } from '../../src/etcd/keys.js';

const PREFIX = '/t-capacity-cli';
const keys = new Keys(PREFIX);
let etcd: EtcdCluster;

test.before(async () => {
  etcd = await EtcdCluster.start();
  const put = (key: string, value: object | string) => putRaw(etcd, key, Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
  put(keys.live('node1'), liveRecord({ name: 'node1' }));
  put(keys.usage('node1'), usageRecord({ services: {
    web: { reserved: { cpu: 0.5, memoryBytes: 268435456 }, source: 'unit:web.service', used: { cpu: 0.031, memoryBytes: 52428800 }, error: null },
    // Valid (a `line` forbids C0 controls only): C1, bidi and zero-width characters must reach no terminal raw.
    odd: { reserved: { cpu: null, memoryBytes: null }, source: 'cgroup:/x\u009b2J\u202e', used: null, error: 'gone\u009b31m\u202eevil\u200b' },
  } }));
  // A second node without a usage record: its capacity still counts as free for a reservation.
  put(keys.live('node2'), liveRecord({ name: 'node2', facts: { os: 'x', osRelease: '1', kernel: 'k', arch: 'x86_64', cpus: 8, memoryBytes: 8 * 2 ** 30 } }));
  // node3's usage record fails the schema: skipped, its live record still shown with facts only.
  put(keys.live('node3'), liveRecord({ name: 'node3' }));
  put(keys.usage('node3'), usageRecord({ node: 'node3', capacity: { cpu: -1, memoryBytes: 1 } }));
});

test.after.always(async () => {
  await etcd?.destroy();
});

const run = (...args: string[]) => beacon(['capacity', '--etcd', etcd.endpoints, '--prefix', PREFIX, ...args]);

test('-o json: nodes with capacity, reserved, used, free and flags; services with reservation against use', (t) => {
  const r = run('-o', 'json');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /warning: skipped \/t-capacity-cli\/v1\/nodes\/node3\/usage: \/capacity\/cpu: must be >= 0/);
  const out = JSON.parse(r.stdout) as { nodes: Record<string, unknown>[]; services: Record<string, unknown>[] };
  t.deepEqual(out.nodes.map((n) => n.name), ['node1', 'node2', 'node3']);
  t.deepEqual(out.nodes[0], {
    name: 'node1',
    capacity: { cpu: 2, memoryBytes: 4109434880 },
    reserved: { cpu: 0.5, memoryBytes: 268435456 },
    used: { cpu: 0.4, memoryBytes: 1288490188 },
    free: { cpu: 1.5, memoryBytes: 4109434880 - 268435456 },
    flags: [],
  });
  t.deepEqual(out.nodes[1]!.reserved, { cpu: 0, memoryBytes: 0 });
  t.is(out.nodes[1]!.used, null);
  const web = out.services.find((s) => s.service === 'web')!;
  t.deepEqual(web, {
    service: 'web',
    node: 'node1',
    reserved: { cpu: 0.5, memoryBytes: 268435456 },
    used: { cpu: 0.031, memoryBytes: 52428800 },
    windowSeconds: 300,
    source: 'unit:web.service',
    error: null,
    flags: [
      { kind: 'waste', resource: 'cpu', message: 'uses 0.03 cpu of 0.5 cpu reserved (6%)' },
      // 50 MiB of 256 MiB is 19.5 %: under the default 20 %.
      { kind: 'waste', resource: 'memory', message: 'uses 50Mi memory of 256Mi memory reserved (20%)' },
    ],
  });
});

test('the table escapes record text and names each finding', (t) => {
  const r = run('-o', 'wide');
  t.is(r.code, 0, r.stderr);
  assertNoRawControl(t, 'capacity table', r.stdout);
  t.regex(r.stdout, /waste\s+service web on node1\s+uses 0\.03 cpu of 0\.5 cpu reserved \(6%\)/);
  t.regex(r.stdout, /error\s+service odd on node1\s+gone\\x9b31m\\u202eevil\\u200b/);
  t.regex(r.stdout, /cgroup:\/x\\x9b2J\\u202e/);
  const d = beacon(['describe', 'node', 'node1', '--etcd', etcd.endpoints, '--prefix', PREFIX]);
  t.is(d.code, 0, d.stderr);
  assertNoRawControl(t, 'describe node', d.stdout);
  t.regex(d.stdout, /Capacity:\n/);
  t.regex(d.stdout, /error: service odd on node1: gone\\x9b31m/);
});

test('describe node -o json and -o yaml: `capacity` is the node\'s part of beacon capacity -o json; null without a usage record', (t) => {
  const fleet = JSON.parse(run('-o', 'json').stdout) as { nodes: { name: string }[]; services: { node: string; flags: { kind: string }[] }[] };
  const d = beacon(['describe', 'node', 'node1', '-o', 'json', '--etcd', etcd.endpoints, '--prefix', PREFIX]);
  t.is(d.code, 0, d.stderr);
  const cap = (JSON.parse(d.stdout) as { capacity: unknown }).capacity;
  t.deepEqual(cap, {
    nodes: fleet.nodes.filter((n) => n.name === 'node1'),
    // Whether a reservation fits on no node needs every node: describe leaves shortage to beacon capacity.
    services: fleet.services.filter((s) => s.node === 'node1').map((s) => ({ ...s, flags: s.flags.filter((f) => f.kind !== 'shortage') })),
  });
  t.deepEqual((cap as { services: { service: string }[] }).services.map((s) => s.service), ['odd', 'web']);
  const y = beacon(['describe', 'node', 'node1', '-o', 'yaml', '--etcd', etcd.endpoints, '--prefix', PREFIX]);
  t.is(y.code, 0, y.stderr);
  t.regex(y.stdout, /^capacity:\n {2}nodes:\n {4}- name: node1\n/m);
  // node2 publishes no usage record; node3's is refused by the schema.
  for (const n of ['node2', 'node3']) {
    const r = beacon(['describe', 'node', n, '-o', 'json', '--etcd', etcd.endpoints, '--prefix', PREFIX]);
    t.is(r.code, 0, r.stderr);
    t.is((JSON.parse(r.stdout) as { capacity: unknown }).capacity, null, n);
  }
});

test('bad flags exit 2 naming the flag', (t) => {
  for (const [flag, value] of [['--waste-below', '2'], ['--mismatch-gap', 'half'], ['--waste-below=-0.1', '']]) {
    const r = value ? run(flag!, value) : run(flag!);
    t.is(r.code, 2, `${flag} ${value}`);
    t.regex(r.stderr, new RegExp(`${flag!.split('=')[0]}.*must be a share from 0 to 1`));
  }
  t.is(run('extra').code, 2);
  t.is(run('--waste-below', '0.5', '-o', 'json').code, 0);
});
