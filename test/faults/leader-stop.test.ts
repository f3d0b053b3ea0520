// Fault: the etcd leader is SIGSTOPped for 10 s (hung, not dead: its sockets stay open and silent),
// and an agent dies at the same moment; then SIGCONT. The two others elect a leader; clients stuck on
// the hung member must notice by their own deadlines. Live nodes keep their registration, the dead one
// is reported once, its hook acts once. etcd 3.4.23 (Debian's) can revoke every lease when the stopped
// leader resumes (etcd-io/etcd#15247); a lease the harness keeps alive itself witnesses that. The watcher
// must not report a live node failed for it (it records LeaseRevoked instead): invariant 1 holds with no
// exception (docs/reliability.md).
//
// Runs: BEACON_FAULT_RUNS (default 1, what CI runs); `BEACON_FAULT_RUNS=20 npx ava
// dist/test/faults/leader-stop.test.js` is the documented 20-run check. While the leader is stopped, two
// busy loops load the CPU (BEACON_FAULT_BUSY, default 2): the wave of revocations is likelier then.
import { spawn, type ChildProcess } from 'node:child_process';
import test from 'ava';
import { Rig, SentinelLease, faultLeader, hold } from './harness.js';

const RUNS = Math.max(1, Number(process.env.BEACON_FAULT_RUNS ?? 1));
const BUSY = Math.max(0, Number(process.env.BEACON_FAULT_BUSY ?? 2));
const tally = { runs: 0, etcdRevokedLive: 0, leaseRevokedEvents: 0, falseNodeFailed: 0, watcherWitnessRevoked: 0, failuresHeld: 0 };

// Busy loops in processes of their own (killed in teardown).
function busy(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

for (let run = 1; run <= RUNS; run++) {
  test.serial(`etcd leader SIGSTOPped for 10 s, then SIGCONT (run ${run} of ${RUNS})`, async (t) => {
    const rig = await Rig.start(t);
    // Shorter than the stop, so that they have expired in the stopped leader's frozen view when it resumes.
    const witness = await SentinelLease.start(rig.etcd.endpoints, 5);
    t.teardown(() => witness.revoked().then(() => undefined, () => undefined));
    let stopped: { signal(sig: NodeJS.Signals): void } | undefined;
    t.teardown(() => stopped?.signal('SIGCONT'));
    const loops = busy(BUSY);
    t.teardown(() => loops.forEach((p) => p.kill('SIGKILL')));
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
    // Keep the load a little past the resume, when the wave comes.
    await hold(2_000);
    loops.forEach((p) => p.kill('SIGKILL'));

    const s = await rig.check(
      {
        fault: 'leader SIGSTOP 10 s',
        faultAt,
        answeredAt,
        extra: { electionMs: electedAt - faultAt, answeredAfterMs: answeredAt - faultAt, stoppedMs: contAt - faultAt, run },
        staleLeaderResumed: { at: contAt, witness },
      },
      contAt,
    );
    tally.runs++;
    if (s.sentinelRevoked || s.revokedByEtcd.length > 0) tally.etcdRevokedLive++;
    tally.leaseRevokedEvents += s.leaseRevoked.length;
    tally.falseNodeFailed += s.falseNodeFailed.length;
    // What the watchers' own witnesses saw, and the failures they held back for it.
    const lines = (msg: string) => rig.watchers.flatMap((w) => w.proc.withMsg(msg));
    const seen = lines('witness lease revoked by etcd while kept alive').length;
    const held = lines('lease gone while etcd revokes live leases: holding the failure');
    if (seen > 0) tally.watcherWitnessRevoked++;
    tally.failuresHeld += held.length;
    t.log(`WATCHERS witness revocations seen ${seen}; failures held ${JSON.stringify(held.map((l) => [l.node, l.holdMs]))}`);
    t.log(`TALLY ${JSON.stringify(tally)}`);
  });
}
