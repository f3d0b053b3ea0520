// Fault: the etcd leader is SIGSTOPped for 10 s (hung, not dead: its sockets stay open and silent),
// and an agent dies at the same moment; then SIGCONT. The two others elect a leader; clients stuck on
// the hung member must notice by their own deadlines. Live nodes keep their registration, the dead one
// is reported once, its hook acts once. etcd 3.4.23 (Debian's) can revoke every lease when the stopped
// leader resumes (etcd-io/etcd#15247); a lease the harness keeps alive itself witnesses that, and the
// checker reports such revocations apart from beacon's own false reports (docs/reliability.md).
import test from 'ava';
import { Rig, SentinelLease, faultLeader, hold } from './harness.js';

test('etcd leader SIGSTOPped for 10 s, then SIGCONT', async (t) => {
  const rig = await Rig.start(t);
  // Shorter than the stop, so that they have expired in the stopped leader's frozen view when it resumes.
  const witness = await SentinelLease.start(rig.etcd.endpoints, 5);
  t.teardown(() => witness.revoked().then(() => undefined, () => undefined));
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
      staleLeaderResumed: { at: contAt, witness },
    },
    contAt,
  );
});
