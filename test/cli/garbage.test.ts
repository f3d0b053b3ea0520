// Garbage keys under the prefix: readers skip and report them, and keep working.
import test from 'ava';
import { EtcdCluster } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';

test('nodes and services skip undecodable keys with a warning and still list the good ones', async (t) => {
  const etcd = await EtcdCluster.start();
  const agent = new BeaconProcess(['agent', '--config', writeConfig(
    `etcd:\n  endpoints: [${etcd.endpoints}]\nnode: { name: good, ttl: 5s }\nservices:\n  - { name: web, port: 80 }\n`,
  )]);
  t.teardown(async () => {
    await agent.stop('SIGKILL');
    await etcd.destroy();
  });
  await agent.waitLine((l) => l.msg === 'registered');
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
  t.regex(web.stderr, /services\/web\/evil: record does not match key/);
});
