// Fault: an etcd follower is SIGKILLed (and an agent dies at the same moment), then the member is
// restarted on its data dir. Quorum never breaks: live nodes keep their leases, the dead one is
// reported once, its hook acts once.
import test from 'ava';
import { Rig } from './harness.js';

test('etcd follower SIGKILLed, then restarted', async (t) => {
  const rig = await Rig.start(t);
  const li = await rig.leaderIndex();
  const fi = (li + 1) % 3;
  const follower = rig.etcd.members[fi]!;

  const faultAt = Date.now();
  follower.signal('SIGKILL');
  rig.killAgent('n3');
  const answeredAt = await rig.waitAnswering();
  await rig.waitEvent('NodeFailed', 'n3', 20_000);
  await follower.stop('SIGKILL');
  await follower.start();
  await follower.waitHealthy();
  const rejoinedAt = Date.now();

  const s = await rig.check(
    { fault: 'follower SIGKILL', faultAt, answeredAt, extra: { restartedMemberHealthyAfterMs: rejoinedAt - faultAt } },
    rejoinedAt,
  );
  // Quorum never broke. The client tries the members it is connected to first, so after the kill an
  // agent's calls go to a live member: only a call in flight at the kill fails, and its retry (100-433 ms
  // later) lands on a live member. The target is 2 s (before the client knew better: up to 2.8 s, when a
  // later keepalive drew the dead member; docs/reliability.md, fix 6).
  t.true(s.maxReregisterMs <= 2_000, `re-registered within 2 s: ${JSON.stringify(s.reregisterMs)}`);
  t.is(s.leasesLostByDeadline, 0, 'no agent gave its lease up');
});
