// Fault: the whole etcd cluster is down for 20 s (every member SIGKILLed), and an agent dies while it is
// down; then every member restarts on its data dir. etcd restores the leases from disk and the new
// leader gives each its full TTL again, so the dead node's keys come back for one more TTL and then
// expire: it must be reported once. Live agents must be registered again within seconds of etcd
// answering, without a NodeFailed for them.
import test from 'ava';
import { Rig, hold } from './harness.js';

test('whole etcd cluster down for 20 s, then back', async (t) => {
  const rig = await Rig.start(t);
  const faultAt = Date.now();
  await Promise.all(rig.etcd.members.map((m) => m.stop('SIGKILL')));
  const downAt = Date.now();
  rig.killAgent('n3');
  await hold(20_000 - (Date.now() - downAt));
  const restartAt = Date.now();
  await Promise.all(rig.etcd.members.map((m) => m.start()));
  const answeredAt = await rig.waitAnswering();
  await rig.waitEvent('NodeFailed', 'n3', 30_000);

  const s = await rig.check({
    fault: 'cluster down 20 s',
    faultAt,
    answeredAt,
    extra: { downMs: restartAt - downAt, answeredAfterRestartMs: answeredAt - restartAt },
  });
  // Every live agent gave its lease up at its own deadline, and found it restored by etcd and kept it.
  t.is(s.leasesLostByDeadline, 2);
  t.is(s.leasesKept, 2);
});
