// Oversized values beside the node records do not blind the watcher. Four 1.4 MiB values under one node's
// prefix (near etcd's default request limit; a node may write them with its own credentials) made every
// listing fail (over gRPC's 4 MiB receive limit, reported as "etcd unavailable"): /healthz said 503 and a
// node killed meanwhile was never reported. Deleting them in one transaction (one watch response with
// every previous value) then dropped the watcher's watches every ~6 s for as long as it ran.
import test from 'ava';
import { Store } from '../../src/etcd/store.js';
import { EtcdCluster, freePort, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';
import { get } from '../metrics/support.js';
import { startAgent, stopGracefully, waitEvent, waitLeading, type Line } from './support.js';

const TTL_S = 3;
const BIG = 1.4 * 1024 * 1024;
// Two gRPC keepalive periods (6 s each): a stream left on a closed channel drops within one.
const QUIET_MS = 14_000;

/** Log lines that say a watch or listing broke (the re-listing on becoming leader is not a break). */
const gaps = (lines: Line[]) =>
  lines.filter((l) => l.msg === 'etcd not answering' || (l.msg === 'watch gap: listing again' && l.reason !== 'elected leader'));

test('a watcher among oversized values lists, stays healthy, reports a SIGKILL in time; their deletion does not shake it', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const prefix = '/t-big';
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 });
  t.teardown(() => store.close());
  await startAgent(t, etcd.endpoints, prefix, 'holder', `${TTL_S}s`);
  const victim = await startAgent(t, etcd.endpoints, prefix, 'victim', `${TTL_S}s`);
  for (let i = 0; i < 4; i++) await store.put(`${prefix}/v1/nodes/holder/blob${i}`, String(i).repeat(BIG));

  // Started after the values were written: its first listing has to read past them.
  const port = await freePort();
  const cfg = {
    etcd: { endpoints: etcd.endpoints.split(',') },
    prefix,
    watcher: { id: 'w-big', electionTtl: '2s', probeInterval: '1s', massFailure: { hold: '1s' } },
    hooks: [],
    http: { listen: `127.0.0.1:${port}` },
  };
  const watcher = new BeaconProcess(['watcher', '--config', writeConfig(JSON.stringify(cfg), 'watcher.json')]);
  t.teardown(() => stopGracefully(watcher));
  await waitLeading(watcher, 30_000);
  await waitEvent(watcher, 'NodeJoined', 'holder');
  const joined = await waitEvent(watcher, 'NodeJoined', 'victim');
  const healthz = async () => (await get(`http://127.0.0.1:${port}/healthz`)).status;
  t.is(await waitFor(async () => ((await healthz()) === 200 ? 200 : undefined), { what: 'healthz 200' }), 200);

  const killedAt = Date.now();
  await victim.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'victim', 10_000);
  const latency = Date.parse(failed.time as string) - killedAt;
  t.true(latency <= TTL_S * 1000 + 1000, `NodeFailed ${latency} ms after SIGKILL`);
  t.is(failed.lease, joined.lease);
  t.is(await healthz(), 200);
  t.deepEqual(gaps(watcher.lines), [], 'no listing or watch failed');
  // It listed twice among the big values (at start, and again on becoming leader).
  t.true(watcher.lines.some((l) => l.msg === 'watch gap: listing again' && l.reason === 'elected leader'));

  // One transaction deletes the four values: one watch response of ~5.6 MiB.
  const before = watcher.lines.length;
  await store.txn([{ key: `${prefix}/none`, target: 'Version', op: '==', value: 0 }], [{ deletePrefix: `${prefix}/v1/nodes/holder/blob` }]);
  const quietUntil = Date.now() + QUIET_MS;
  await waitFor(() => Date.now() > quietUntil || gaps(watcher.lines.slice(before)).length > 0, {
    timeoutMs: QUIET_MS + 5_000,
    what: 'the quiet period',
  });
  t.deepEqual(gaps(watcher.lines.slice(before)), [], 'no watch gap after the deletion');
  t.is(await healthz(), 200);
  t.deepEqual(watcher.lines.filter((l) => l.msg === 'node event' && l.node === 'holder' && l.event !== 'NodeJoined'), []);
});
