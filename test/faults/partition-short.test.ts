// Fault: an agent in its own network namespace is cut off from etcd (its veth down) for half its TTL,
// then the link comes back. Its lease must survive: no NodeFailed, no new registration needed, and the
// agent's keepalives get through again soon after the heal.
import test from 'ava';
import { Rig, TTL_S, hold } from './harness.js';

const PARTITION_MS = (TTL_S * 1000) / 2;

test(`agent partitioned for ${PARTITION_MS} ms (less than its ${TTL_S} s TTL)`, async (t) => {
  const rig = await Rig.start(t, { agents: 2, netnsAgent: true });
  const p1 = rig.agent('p1');
  const leaseBefore = p1.proc.withMsg('registered').at(-1)!.lease;

  const faultAt = Date.now();
  rig.netns!.down();
  await hold(PARTITION_MS);
  rig.netns!.up();
  const healAt = Date.now();

  const s = await rig.check({ fault: `agent partitioned ${PARTITION_MS} ms`, faultAt, answeredAt: healAt, extra: { partitionMs: healAt - faultAt } });
  t.is(p1.proc.withMsg('registered').at(-1)!.lease, leaseBefore, 'the agent kept its lease');
  t.deepEqual(rig.events('NodeFailed', 'p1'), []);
  t.is(s.deaths, 0);
});
