// follow() past a watch response too large to receive: etcd sends every event of one revision in one
// response, each with its previous value, so a node deleting its big values in one transaction can exceed
// the client's receive limit (here lowered to 2 MiB; the default is 64 MiB). The follower lists again at
// the current revision and watches from there (no outage reported, no replay of the same response), and
// the client's other streams are left alone: etcd3 used to close the member's channels after such an
// error, which dropped every other stream at its next keepalive, and each drop closed the channels again.
import test from 'ava';
import { follow } from '../../src/client/follow.js';
import { Store, type KeyValue, type WatchEvent } from '../../src/etcd/store.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';

const BIG = 1.4 * 1024 * 1024;
// Two gRPC keepalive periods (6 s each): a stream left on a closed channel drops within one.
const QUIET_MS = 14_000;

test('a watch response over the receive limit: listed again once, no outage, other streams stay up', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 }, { maxReceiveBytes: 2 * 1024 * 1024 });
  t.teardown(() => store.close());
  for (let i = 0; i < 4; i++) await store.put(`/f/n/a/blob${i}`, String(i).repeat(BIG));
  await store.put('/f/n/b/live', '{"up":true}');

  // A second long-lived stream on the same client, like the watcher's election watch.
  const other = await store.watch('/f/other/', String(etcd.revision() + 1));
  const otherDrops: string[] = [];
  other.on('disconnected', (err: Error) => otherDrops.push(err.message));
  other.on('error', (err: Error) => otherDrops.push(err.message));
  t.teardown(() => other.cancel());

  let state: ReadonlyMap<string, KeyValue> = new Map();
  const lists: string[] = [];
  const resyncs: string[] = [];
  const outages: (Error | undefined)[] = [];
  const events: WatchEvent[] = [];
  const stop = new AbortController();
  const running = follow(
    store,
    '/f/n/',
    {
      probeIntervalMs: 500,
      requestTimeoutMs: 10_000,
      onState: (kvs, cause, revision) => {
        state = new Map(kvs);
        if (cause === 'list') lists.push(revision);
      },
      onEvent: (ev) => events.push(ev),
      onOutage: (err) => outages.push(err),
      onResync: (reason) => resyncs.push(reason),
    },
    stop.signal,
  );
  t.teardown(async () => {
    stop.abort();
    await running;
  });
  await waitFor(() => state.size === 5, { what: 'the first listing, big values included' });
  t.is(state.get('/f/n/a/blob3')?.value.length, Math.floor(BIG));

  // One revision deleting the four values: 4 events with 1.4 MiB previous values each, one response.
  await store.txn([{ key: '/f/none', target: 'Version', op: '==', value: 0 }], [{ deletePrefix: '/f/n/a/' }]);
  const deletedAt = etcd.revision();
  await waitFor(() => resyncs.length > 0, { timeoutMs: 15_000, what: 'a resync after the oversized response' });
  t.regex(resyncs[0]!, /^watch response too large: .*larger than max/);
  await waitFor(() => lists.length === 2, { what: 'the second listing' });
  t.true(Number(lists[1]) >= deletedAt, 'listed at or after the delete: the new watch starts past it');
  t.deepEqual([...state.keys()], ['/f/n/b/live']);

  // The new watch works, and nothing drops while the client idles (no reset loop).
  await store.put('/f/n/c/live', '{"up":true}');
  await waitFor(() => state.has('/f/n/c/live'), { what: 'a put seen by the new watch' });
  const quietUntil = Date.now() + QUIET_MS;
  await waitFor(() => Date.now() > quietUntil || resyncs.length > 1 || otherDrops.length > 0, {
    timeoutMs: QUIET_MS + 5_000,
    what: 'the quiet period',
  });
  t.deepEqual(resyncs.slice(1), [], 'no further resync');
  t.deepEqual(otherDrops, [], 'the other stream was never dropped');
  t.deepEqual(outages, [], 'never reported as an outage');
  t.is(lists.length, 2);
  t.false(events.some((e) => e.type === 'delete' && e.kv.key.startsWith('/f/n/a/')), 'the oversized response was not replayed');
});
