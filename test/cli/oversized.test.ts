// Oversized values under one node's prefix (a node may write them with its own credentials): four values
// of 1.4 MiB, near etcd's default request limit, are 5.6 MiB in one range response, over gRPC's default
// 4 MiB receive limit. `beacon nodes` used to fail with "etcd unavailable" (exit 4); it lists every node.
import test from 'ava';
import { Store } from '../../src/etcd/store.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { BeaconProcess, beacon, writeConfig } from '../helpers/process.js';

test('beacon nodes with four 1.4 MiB values under a node prefix exits 0 and lists every node', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const agents = ['a1', 'a2'].map(
    (name) => new BeaconProcess(['agent', '--config', writeConfig(`etcd:\n  endpoints: [${etcd.endpoints}]\nnode: { name: ${name}, ttl: 5s }\n`)]),
  );
  t.teardown(() => Promise.all(agents.map((a) => a.stop('SIGKILL'))));
  await Promise.all(agents.map((a) => a.waitLine((l) => l.msg === 'registered', 20_000)));
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 });
  t.teardown(() => store.close());
  for (let i = 0; i < 4; i++) await store.put(`/beacon/v1/nodes/a1/blob${i}`, 'x'.repeat(1.4 * 1024 * 1024));

  const nodes = beacon(['nodes', '-o', 'json', '--etcd', etcd.endpoints]);
  t.is(nodes.code, 0, nodes.stderr);
  t.deepEqual(JSON.parse(nodes.stdout).map((n: { name: string }) => n.name), ['a1', 'a2']);
  t.notRegex(nodes.stderr, /unavailable/);
  const table = beacon(['nodes', '--etcd', etcd.endpoints]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^a1 /m);
  t.regex(table.stdout, /^a2 /m);
});
