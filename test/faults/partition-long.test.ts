// Fault: an agent in its own network namespace is cut off from etcd (its veth down) for well over its
// TTL, then the link comes back. The watchers cannot tell this from a death: NodeFailed once (its hook
// acts once), then, after the heal, the agent registers again under a new lease and NodeRecovered follows.
import test from 'ava';
import { Rig, TTL_S, hold } from './harness.js';

const PARTITION_MS = TTL_S * 1000 * 2 + 2_000;

test(`agent partitioned for ${PARTITION_MS} ms (more than its ${TTL_S} s TTL)`, async (t) => {
  const rig = await Rig.start(t, { agents: 2, netnsAgent: true });

  const faultAt = Date.now();
  rig.netns!.down();
  const failed = await rig.waitEvent('NodeFailed', 'p1', 15_000);
  await hold(PARTITION_MS - (Date.now() - faultAt));
  rig.netns!.up();
  const healAt = Date.now();
  const recovered = await rig.waitEvent('NodeRecovered', 'p1', 15_000);

  await rig.check(
    {
      fault: `agent partitioned ${PARTITION_MS} ms`,
      faultAt,
      answeredAt: healAt,
      cutOff: ['p1'],
      extra: {
        partitionMs: healAt - faultAt,
        nodeFailedAfterMs: Date.parse(failed.time as string) - faultAt,
        nodeRecoveredAfterHealMs: Date.parse(recovered.time as string) - healAt,
        downtimeMs: recovered.downtimeMs,
      },
    },
    healAt,
  );
  t.is(rig.events('NodeRecovered', 'p1').length, 1);
});
