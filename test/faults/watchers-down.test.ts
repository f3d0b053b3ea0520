// Fault: both watchers are SIGKILLed, then a node dies while none runs; then one watcher starts again.
// The failure must still be reported, once, by the level-triggered comparison at start
// (detectedBy: resync), and its hook must act once.
import test from 'ava';
import { Rig, etcdctlAsync, waitLeading } from './harness.js';
import { waitFor } from '../helpers/etcd.js';

test('both watchers down while a node dies, then one back', async (t) => {
  const rig = await Rig.start(t);
  const faultAt = Date.now();
  rig.killWatcher('w-a');
  rig.killWatcher('w-b');
  await Promise.all(rig.watchers.map((w) => w.proc.exited));
  rig.killAgent('n3');
  await waitFor(
    async () => (await etcdctlAsync(rig.etcd.endpoints, ['get', rig.liveKey('n3'), '--keys-only'])).trim() === '',
    { timeoutMs: 15_000, intervalMs: 100, what: "n3's lease to expire" },
  );
  const expiredAt = Date.now();
  t.deepEqual(rig.events('NodeFailed'), [], 'nobody was watching');

  const restartedAt = Date.now();
  const w = rig.startWatcher('w-a');
  await waitLeading(w.proc, 20_000);
  const failed = await rig.waitEvent('NodeFailed', 'n3', 15_000);
  t.is(failed.detectedBy, 'resync');

  await rig.check({
    fault: 'both watchers down, node dies, one back',
    faultAt,
    answeredAt: faultAt,
    extra: {
      leaseExpiredAfterKillMs: expiredAt - rig.agent('n3').killedAt!,
      reportedAfterRestartMs: Date.parse(failed.time as string) - restartedAt,
    },
  });
});
