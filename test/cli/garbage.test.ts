// Garbage keys under the prefix: readers skip and report them, and keep working.
//
// Serial: each test runs the CLI and etcdctl with spawnSync, which blocks this worker's event loop, a dozen
// CLI runs in a row for tens of seconds on a loaded machine. Run side by side, one test's run of spawns
// would stop the other's wait for its agent's `registered` line: the line arrives in time but is not read
// until the deadline has passed.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { endpointRecord, LEASE, liveRecord } from '../helpers/records.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';

test.serial('nodes and services skip undecodable keys with a warning and still list the good ones', async (t) => {
  const etcd = await EtcdCluster.start();
  const agent = new BeaconProcess(['agent', '--config', writeConfig(
    `etcd:\n  endpoints: [${etcd.endpoints}]\nnode: { name: good, ttl: 5s }\nservices:\n  - { name: web, port: 80 }\n`,
  )]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await etcd.destroy();
  });
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  etcd.etcdctl(['put', '/beacon/v1/nodes/bad/live', 'not json {']);
  etcd.etcdctl(['put', '/beacon/v1/nodes/future/live', '{"schema":99}']);
  etcd.etcdctl(['put', '/beacon/v1/services/web/evil', '{"schema":1,"service":"web","node":"other","address":"x","port":1,"health":"passing"}']);
  etcd.etcdctl(['put', '/beacon/v1/services/web/x/../y', '{}']);
  const nodes = beacon(['nodes', '-o', 'json', '--etcd', etcd.endpoints]);
  t.is(nodes.code, 0, nodes.stderr);
  t.deepEqual(JSON.parse(nodes.stdout).map((n: { name: string }) => n.name), ['good']);
  t.regex(nodes.stderr, /skipped \/beacon\/v1\/nodes\/bad\/live: value is not JSON/);
  t.regex(nodes.stderr, /unknown schema version 99/);
  const web = beacon(['services', 'web', '-o', 'json', '--etcd', etcd.endpoints]);
  t.is(web.code, 0, web.stderr);
  t.deepEqual(JSON.parse(web.stdout).map((e: { node: string }) => e.node), ['good']);
  t.regex(web.stderr, /skipped \/beacon\/v1\/services\/web\/evil: /);
});

// Records that parse as JSON but fail the published schema (docs/keys.md, Validation), beside good ones:
// every view exits 0, shows the good records, and names each skipped key once on stderr.
test.serial('records that fail the schema are skipped by every view, which exits 0 with the good ones', async (t) => {
  const etcd = await EtcdCluster.start();
  const agent = new BeaconProcess(['agent', '--config', writeConfig(
    `etcd:\n  endpoints: [${etcd.endpoints}]\nnode: { name: good, ttl: 5s }\nservices:\n  - { name: web, port: 80 }\n`,
  )]);
  const watch = new BeaconProcess(['watch', '--etcd', etcd.endpoints]);
  t.teardown(async () => {
    await Promise.all([agent.stop('SIGKILL'), watch.stop('SIGKILL')]);
    await etcd.destroy();
  });
  await agent.waitLine((l) => l.msg === 'registered', 20_000);
  const at = ['--etcd', etcd.endpoints];
  const put = (key: string, value: unknown, lease?: string) =>
    etcd.etcdctl(['put', ...(lease ? [`--lease=${lease}`] : []), key, typeof value === 'string' ? value : JSON.stringify(value)]);
  const without = <T extends object>(o: T, field: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== field));
  const ep = (node: string, over: Record<string, unknown> = {}) => endpointRecord({ node, service: 'web', ...over });
  const bad: Record<string, unknown> = {
    '/beacon/v1/services/web/notags': without(ep('notags'), 'tags'),
    '/beacon/v1/services/web/badmeta': ep('badmeta', { meta: { n: 1 } }),
    '/beacon/v1/services/web/badlabel': ep('badlabel', { meta: { rack: { a: 1 } } }),
    '/beacon/v1/services/web/bigport': JSON.stringify(ep('bigport')).replace('"port":8080', '"port":1e400'),
    '/beacon/v1/services/web/notip': ep('notip', { address: 'example.com' }),
    '/beacon/v1/nodes/exploding/live': liveRecord({ name: 'exploding', state: 'exploding' as 'up' }),
    '/beacon/v1/nodes/noaddrs/live': without(liveRecord({ name: 'noaddrs' }), 'addresses'),
    '/beacon/v1/nodes/rack/live': liveRecord({ name: 'rack', labels: { rack: { a: 1 } } as unknown as Record<string, string> }),
    '/beacon/v1/nodes/good/conditions': { schema: 1, node: 'good', conditions: [null], watermark: null, bootId: 'b' },
  };
  for (const [key, value] of Object.entries(bad)) put(key, value);
  // Watcher events: one good (under a lease, as the watcher writes it), one without detectedBy, one with no lease.
  const lease = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '600']))![1]!;
  const ev = (id: string, over: Record<string, unknown> = {}) => ({
    schema: 1, id, event: 'NodeJoined', node: 'good', time: '2024-05-01T10:00:00.000Z', reason: 'Registered', detectedBy: 'watch',
    lease: LEASE, bootId: 'b', address: '10.0.0.1', previous: 'unknown', hooks: {}, ...over,
  });
  put('/beacon/v1/watcher/events/good.a.NodeJoined', ev('good.a.NodeJoined'), lease);
  put('/beacon/v1/watcher/events/good.b.NodeJoined', without(ev('good.b.NodeJoined'), 'detectedBy'), lease);
  put('/beacon/v1/watcher/events/good.c.NodeJoined', ev('good.c.NodeJoined'));
  const skipped = (stderr: string) => [...stderr.matchAll(/^warning: skipped (\S+): /gm)].map((m) => m[1]!).sort();

  const services = beacon(['services', '-o', 'json', ...at]);
  t.is(services.code, 0, services.stderr);
  t.deepEqual(JSON.parse(services.stdout).map((e: { node: string }) => e.node), ['good']);
  t.deepEqual(skipped(services.stderr), Object.keys(bad).filter((k) => k.includes('/services/')).sort());
  t.regex(services.stderr, /services\/web\/notags: \/: must have required property 'tags'/);
  t.regex(services.stderr, /services\/web\/bigport: \/port: /);
  t.regex(services.stderr, /services\/web\/notip: \/address: must be a valid ip/);
  for (const args of [['services'], ['services', 'web'], ['endpoints', 'web'], ['endpoints', 'web', '-o', 'wide'], ['nodes'], ['nodes', '-o', 'wide'], ['describe', 'node', 'good'], ['describe', 'node', 'good', '-o', 'wide']]) {
    const r = beacon([...args, ...at]);
    t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stdout, /good/, args.join(' '));
    t.notRegex(r.stdout, /notags|badmeta|bigport|notip|exploding|noaddrs|Infinity|null/, args.join(' '));
  }
  const nodes = beacon(['nodes', '-o', 'json', ...at]);
  t.deepEqual(JSON.parse(nodes.stdout).map((n: { name: string }) => n.name), ['good']);
  t.regex(nodes.stderr, /nodes\/exploding\/live: \/state: must be one of "up", "leaving"/);
  t.regex(nodes.stderr, /nodes\/noaddrs\/live: \/: must have required property 'addresses'/);
  t.regex(nodes.stderr, /nodes\/good\/conditions: \/conditions\/0: must be object/);

  const events = beacon(['events', '-o', 'wide', ...at]);
  t.is(events.code, 0, events.stderr);
  t.is(events.stdout.trim().split('\n').length, 2, 'a header and the one good event');
  const json = beacon(['events', '-o', 'json', ...at]);
  t.deepEqual(JSON.parse(json.stdout).map((e: { id: string }) => e.id), ['good.a.NodeJoined']);
  t.regex(events.stderr, /good\.b\.NodeJoined: \/: must have required property 'detectedBy'/);
  t.regex(events.stderr, /good\.c\.NodeJoined: not bound to a lease/);
  const describe = beacon(['describe', 'node', 'good', '-o', 'json', ...at]);
  t.deepEqual(JSON.parse(describe.stdout).events.map((e: { id: string }) => e.id), ['good.a.NodeJoined']);

  // `watch` (table) keeps going past a value that fails: it says so once and prints the next good change.
  const marker = '/beacon/v1/nodes/good/maintenance';
  await waitFor(() => {
    put('/beacon/v1/nodes/good/conditions', bad['/beacon/v1/nodes/good/conditions']);
    put(marker, { schema: 1, node: 'good', reason: 'test', services: {}, updatedAt: '2024-05-01T10:00:00.000Z' });
    return watch.lines.some((l) => typeof l.raw === 'string' && l.raw.includes('maintenance') && l.raw.includes('good'));
  }, { timeoutMs: 20_000, what: 'beacon watch to print the good change after the bad one' });
  t.is(watch.proc.exitCode, null, watch.stderr);
  t.regex(watch.stderr, /warning: skipped \/beacon\/v1\/nodes\/good\/conditions: \/conditions\/0: must be object/);
  t.false(watch.lines.some((l) => typeof l.raw === 'string' && l.raw.includes('conditions') && l.raw.includes('PUT')));
});
