// Fault: the etcd leader is SIGKILLed (and an agent dies at the same moment), then the member is
// restarted on its data dir. The two others elect a new leader; live nodes must keep their registration
// (no NodeFailed), the dead one must be reported once, and its hook must act once.
import test from 'ava';
import { Rig, faultLeader } from './harness.js';

test('etcd leader SIGKILLed, then restarted', async (t) => {
  const rig = await Rig.start(t);
  const { leader, faultAt, answeredAt, electedAt } = await faultLeader(rig, (m) => m.signal('SIGKILL'), 'n3');
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
