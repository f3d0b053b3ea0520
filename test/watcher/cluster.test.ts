// A 3-member etcd cluster on loopback loses its leader: live nodes must not be reported failed (their
// agents keep their leases through the election), and a node that really died at the same moment is
// still reported, within the leader-change bound: election + TTL + 1.5 s (a new etcd leader restarts
// every lease's TTL, so a dead node is seen later than with a stable leader).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { EtcdCluster, requireBinary, waitFor } from '../helpers/etcd.js';
import { nodeEvents, startAgents, startWatcher, waitEvent, waitLeading } from './support.js';

// Long enough for the agents to ride out an etcd election on a loaded 2-core machine (up to ~3 s measured).
const TTL_S = 5;

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start(3);
});
test.after.always(async () => {
  await etcd?.destroy();
});

// One member's view: its id and the leader it follows (undefined when it does not answer).
function memberStatus(endpoint: string): { id: string; leader: string } | undefined {
  const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', endpoint, '--command-timeout=500ms', 'endpoint', 'status', '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
  });
  if (r.status !== 0) return undefined;
  // Ids are uint64: read them as text, not through a double.
  const id = /"member_id":(\d+)/.exec(r.stdout)?.[1];
  const leader = /"leader":(\d+)/.exec(r.stdout)?.[1];
  return id && leader && leader !== '0' ? { id, leader } : undefined;
}

test('etcd leader killed: no NodeFailed for live nodes; a real death reported within election + TTL + 1.5 s', async (t) => {
  const prefix = '/t-cluster';
  const agents = await startAgents(t, etcd.endpoints, prefix, ['n1', 'n2', 'n3'], `${TTL_S}s`);
  // The watcher's own election lease must outlive an etcd election too (2 s is less than one under load).
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-cluster', watcher: { electionTtl: '5s' } });
  await waitLeading(watcher);
  for (const n of ['n1', 'n2', 'n3']) await waitEvent(watcher, 'NodeJoined', n);

  const statuses = etcd.members.map((m) => memberStatus(m.endpoint));
  const leaderIndex = statuses.findIndex((s) => s && s.id === s.leader);
  t.true(leaderIndex >= 0, 'found the etcd leader');
  const oldLeader = statuses[leaderIndex]!.id;
  const survivors = etcd.members.filter((_, i) => i !== leaderIndex);

  const killedAt = Date.now();
  etcd.members[leaderIndex]!.signal('SIGKILL');
  await agents[2]!.stop('SIGKILL');

  const elected = waitFor(
    () => {
      const s = survivors.map((m) => memberStatus(m.endpoint));
      return s.every((x) => x && x.leader !== oldLeader) ? Date.now() : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 50, what: 'a new etcd leader' },
  );
  const failed = await waitEvent(watcher, 'NodeFailed', 'n3', 20_000);
  const electionMs = (await elected) - killedAt;
  const latency = Date.parse(failed.time as string) - killedAt;
  t.log(`new etcd leader after ${electionMs} ms; NodeFailed n3 after ${latency} ms`);
  if (latency > electionMs + TTL_S * 1000 + 1500) {
    for (const l of watcher.lines.filter((x) => Date.parse(x.time as string) >= killedAt)) t.log(JSON.stringify(l).slice(0, 400));
  }
  t.true(latency <= electionMs + TTL_S * 1000 + 1500, `NodeFailed after ${latency} ms (election ${electionMs} ms)`);

  // Past the longest time a lost lease could take to expire, the live nodes are still registered...
  const n1Lease = nodeEvents(watcher, 'NodeJoined', 'n1')[0]!.lease as string;
  const n2Lease = nodeEvents(watcher, 'NodeJoined', 'n2')[0]!.lease as string;
  const survivorsEndpoints = survivors.map((m) => m.endpoint).join(',');
  const alive = (lease: string) => {
    const r = spawnSync(requireBinary('etcdctl'), ['--endpoints', survivorsEndpoints, 'lease', 'timetolive', lease], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    return r.status === 0 && /remaining\(\d+s\)/.test(r.stdout) && !/already expired/.test(r.stdout);
  };
  await waitFor(() => Date.now() - killedAt > electionMs + TTL_S * 1000 + 2000 && alive(n1Lease) && alive(n2Lease), {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: 'the election + TTL bound to pass with n1 and n2 still leased',
  });
  // ...and the watcher said nothing false about them.
  t.deepEqual(nodeEvents(watcher, 'NodeFailed').map((e) => e.node), ['n3']);
  t.deepEqual(nodeEvents(watcher, 'NodeFailed', 'n1'), []);
});
