// Fault: the etcd leader is SIGKILLed (and an agent dies at the same moment), then the member is
// restarted on its data dir. The two others elect a new leader; live nodes must keep their registration
// (no NodeFailed), the dead one must be reported once, and its hook must act once.
import test from 'ava';
import { Rig, leaderSeenBy } from './harness.js';
import { waitFor } from '../helpers/etcd.js';

test('etcd leader SIGKILLed, then restarted', async (t) => {
  const rig = await Rig.start(t);
  const li = await rig.leaderIndex();
  const leader = rig.etcd.members[li]!;
  const oldLeader = await leaderSeenBy(leader.endpoint);
  const survivors = rig.etcd.members.filter((_, i) => i !== li);

  const faultAt = Date.now();
  leader.signal('SIGKILL');
  rig.killAgent('n3');
  const answeredAt = await rig.waitAnswering(survivors.map((m) => m.endpoint).join(','));
  const electedAt = await waitFor(
    async () => {
      const seen = await Promise.all(survivors.map((m) => leaderSeenBy(m.endpoint)));
      return seen.every((x) => x && x !== oldLeader) ? Date.now() : undefined;
    },
    { timeoutMs: 15_000, what: 'a new etcd leader' },
  );
  await rig.waitEvent('NodeFailed', 'n3', 20_000);
  await leader.stop('SIGKILL');
  await leader.start();
  await leader.waitHealthy();
  const rejoinedAt = Date.now();

  await rig.check({
    fault: 'leader SIGKILL',
    faultAt,
    answeredAt,
    extra: { electionMs: electedAt - faultAt, answeredAfterMs: answeredAt - faultAt, restartedMemberHealthyAfterMs: rejoinedAt - faultAt },
  }, rejoinedAt);
});
