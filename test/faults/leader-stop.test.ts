// Fault: the etcd leader is SIGSTOPped for 10 s (hung, not dead: its sockets stay open and silent),
// and an agent dies at the same moment; then SIGCONT. The two others elect a leader; clients stuck on
// the hung member must notice by their own deadlines. Live nodes keep their registration, the dead one
// is reported once, its hook acts once.
import test from 'ava';
import { Rig, hold, leaderSeenBy } from './harness.js';
import { waitFor } from '../helpers/etcd.js';

test('etcd leader SIGSTOPped for 10 s, then SIGCONT', async (t) => {
  const rig = await Rig.start(t);
  const li = await rig.leaderIndex();
  const leader = rig.etcd.members[li]!;
  const oldLeader = await leaderSeenBy(leader.endpoint);
  const survivors = rig.etcd.members.filter((_, i) => i !== li);
  t.teardown(() => leader.signal('SIGCONT'));

  const faultAt = Date.now();
  leader.signal('SIGSTOP');
  rig.killAgent('n3');
  const answeredAt = await rig.waitAnswering(survivors.map((m) => m.endpoint).join(','));
  const electedAt = await waitFor(
    async () => {
      const seen = await Promise.all(survivors.map((m) => leaderSeenBy(m.endpoint)));
      return seen.every((x) => x && x !== oldLeader) ? Date.now() : undefined;
    },
    { timeoutMs: 15_000, what: 'a new etcd leader' },
  );
  await hold(10_000 - (Date.now() - faultAt));
  leader.signal('SIGCONT');
  const contAt = Date.now();
  await leader.waitHealthy();

  await rig.check(
    {
      fault: 'leader SIGSTOP 10 s',
      faultAt,
      answeredAt,
      extra: { electionMs: electedAt - faultAt, answeredAfterMs: answeredAt - faultAt, stoppedMs: contAt - faultAt },
    },
    contAt,
  );
});
