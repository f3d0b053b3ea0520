// The client library's reads against a real etcd and real agents: listNodes, listEndpoints, passingOnly.
import test from 'ava';
import { connect, type BeaconClient } from '../../src/client/index.js';
import { ConfigError } from '../../src/errors.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import type { BeaconProcess } from '../helpers/process.js';
import { startAgent } from './support.js';

let etcd: EtcdCluster;
let client: BeaconClient;
const agents: BeaconProcess[] = [];

test.before(async () => {
  etcd = await EtcdCluster.start();
  // node2's web check targets a closed port: its endpoint turns critical.
  const closed = ['    checks:', '      - tcp: 127.0.0.1:1', '        interval: 1s', '        timeout: 500ms'];
  agents.push(await startAgent(etcd.endpoints, 'node1', { web: [], api: [] }));
  agents.push(await startAgent(etcd.endpoints, 'node2', { web: closed }));
  client = await connect({ etcd: etcd.endpoints, env: {} });
});

test.after.always(async () => {
  client?.close();
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await etcd?.destroy();
});

test('listEndpoints returns every endpoint, passingOnly only the passing ones', async (t) => {
  const all = await waitFor(
    async () => {
      const eps = await client.listEndpoints('web');
      return eps.length === 2 && eps.find((e) => e.node === 'node2')?.health === 'critical' ? eps : undefined;
    },
    { timeoutMs: 20_000, what: 'node2/web critical' },
  );
  t.deepEqual(all.map((e) => e.node), ['node1', 'node2']);
  t.like(all[0], { service: 'web', node: 'node1', address: '127.0.0.1', port: 8000, health: 'passing' });
  const passing = await client.listEndpoints('web', { passingOnly: true });
  t.deepEqual(passing.map((e) => e.id), ['node1/web']);
  t.deepEqual(await client.listEndpoints('nosuch'), []);
  await t.throwsAsync(client.listEndpoints('bad/name'), { instanceOf: RangeError });
});

test('listNodes returns the node views, with their services', async (t) => {
  const nodes = await client.listNodes();
  t.deepEqual(nodes.map((n) => [n.name, n.status, n.services]), [
    ['node1', 'up', ['api', 'web']],
    ['node2', 'up', ['web']],
  ]);
});

test('connect takes the CLI settings: a config file, a prefix, and refuses bad ones', async (t) => {
  const other = await connect({ document: { etcd: { endpoints: [etcd.endpoints] } }, prefix: '/elsewhere', env: {} });
  try {
    t.is(other.keys.root, '/elsewhere/v1/');
    t.deepEqual(await other.listNodes(), []);
  } finally {
    other.close();
  }
  await t.throwsAsync(connect({ etcd: 'not a url', env: {} }), { instanceOf: ConfigError });
});
