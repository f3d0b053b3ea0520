// Store.keepAliveOnce against a real etcd: an answer that arrived while this process's event loop was
// busy counts (a CPU-starved agent must not take etcd's renewals for failures), and a member that never
// answers is a deadline error in time.
import test from 'ava';
import { EtcdTimeoutError } from '../../src/errors.js';
import { Store } from '../../src/etcd/store.js';
import { EtcdCluster } from '../helpers/etcd.js';

/** Keep this thread busy: no timer, no socket read, for `ms`. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

test.serial('a keepalive answered while the event loop was blocked past the deadline resolves, and a hung member is a deadline error', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 5_000, dialTimeoutMs: 5_000 });
  t.teardown(() => store.close());
  const { id } = await store.grant(30);
  t.true((await store.keepAliveOnce(id, 2_000)) > 0, 'connected and answering');
  const member = etcd.members[0]!;

  for (let round = 0; round < 5; round++) {
    // etcd paused, so the answer cannot come before the loop blocks; resumed, it answers while the loop
    // is blocked, and the loop only wakes after the 300 ms deadline has passed.
    member.signal('SIGSTOP');
    const sent = store.keepAliveOnce(id, 300).then(
      (ttl) => ({ ttl }),
      (err: unknown) => ({ err }),
    );
    await new Promise((r) => setTimeout(r, 100)); // the request written to the socket
    // Blocked in the check phase, so that the loop's next turn starts with the expired timers (as after
    // any stall), before the socket is read. (Blocked in a timer callback, the loop would read the socket
    // first: its clock for that timer phase was read before the block.)
    await new Promise<void>((r) =>
      setImmediate(() => {
        member.signal('SIGCONT');
        busy(700);
        r();
      }),
    );
    const r = await sent;
    t.true('ttl' in r && r.ttl > 0, `round ${round}: ${JSON.stringify(r, (_, v) => (v instanceof Error ? v.message : v))}`);
  }

  member.signal('SIGSTOP');
  t.teardown(() => member.signal('SIGCONT'));
  const t0 = Date.now();
  const err = await store.keepAliveOnce(id, 300).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.true(err instanceof EtcdTimeoutError, String(err));
  t.true(Date.now() - t0 < 1_500, `rejected after ${Date.now() - t0} ms`);
});
