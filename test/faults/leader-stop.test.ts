// Fault: the etcd leader is SIGSTOPped for 10 s (hung, not dead: its sockets stay open and silent),
// and an agent dies at the same moment; then SIGCONT. The two others elect a leader; clients stuck on
// the hung member must notice by their own deadlines. Live nodes keep their registration, the dead one
// is reported once, its hook acts once.
import test from 'ava';
import { Rig, faultLeader, hold } from './harness.js';

test('etcd leader SIGSTOPped for 10 s, then SIGCONT', async (t) => {
  const rig = await Rig.start(t);
  let stopped: { signal(sig: NodeJS.Signals): void } | undefined;
  t.teardown(() => stopped?.signal('SIGCONT'));
  const { leader, faultAt, answeredAt, electedAt } = await faultLeader(
    rig,
    (m) => {
      stopped = m;
      m.signal('SIGSTOP');
    },
    'n3',
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
