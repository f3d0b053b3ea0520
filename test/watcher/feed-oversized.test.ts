// The watcher's NodeFeed with values too large for its receive limit (lowered here to 1 MiB, below one
// 1.4 MiB value; the default is 64 MiB): the listing returns such a key by name, so a too-large live
// record is a node present but unreadable, not a node missing; a watch response too large ends that watch
// and the feed lists again past it, once, without calling it an outage; the next changes arrive.
import { Writable } from 'node:stream';
import test from 'ava';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import { createLogger } from '../../src/log.js';
import { NodeFeed } from '../../src/watcher/feed.js';
import { NodeModel } from '../../src/watcher/model.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';

const BIG = 1.4 * 1024 * 1024;
// Two gRPC keepalive periods (6 s each): a stream left on a closed channel drops within one.
const QUIET_MS = 14_000;

test('feed: too-large values are listed by name, a too-large watch response is one re-list, then quiet', async (t) => {
  const etcd = await EtcdCluster.start();
  t.teardown(() => etcd.destroy());
  const keys = new Keys('/t-feed-big');
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 }, { maxReceiveBytes: 1024 * 1024 });
  t.teardown(() => store.close());
  await store.put(keys.live('n1'), 'not json');
  await store.put(keys.live('n2'), 'not json');
  await store.put(keys.live('n3'), 'x'.repeat(BIG)); // a live record too large to read
  for (let i = 0; i < 4; i++) await store.put(`${keys.node('n1')}blob${i}`, String(i).repeat(BIG));

  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const rejected: string[] = [];
  const model = new NodeModel(keys, { reject: (err) => rejected.push(err.problem), clear: () => undefined });
  const feed = new NodeFeed(store, keys, model, { probeIntervalMs: 500, requestTimeoutMs: 10_000 }, { resynced: () => undefined, changed: () => undefined }, log);
  const stop = new AbortController();
  const done = feed.run(stop.signal);
  t.teardown(async () => {
    stop.abort();
    await done;
  });
  await waitFor(() => model.live.size === 3, { what: 'the listing' });
  t.true(feed.answering);
  t.like(model.live.get('n3'), { record: undefined }, 'n3 present, unreadable');
  t.true(rejected.includes('value too large'), rejected.join('; '));

  // A live key removed (an expiry): seen by the watch.
  await store.delete(keys.live('n2'));
  await waitFor(() => !model.live.has('n2'), { what: 'n2 gone from the model' });
  t.is(feed.resyncs, 1);

  // One revision deleting the four values: a watch response far over 1 MiB.
  await store.txn([{ key: '/none', target: 'Version', op: '==', value: 0 }], [{ deletePrefix: `${keys.node('n1')}blob` }]);
  await waitFor(() => feed.resyncs === 2, { timeoutMs: 15_000, what: 'the re-list after the oversized response' });
  const gaps = () => lines.filter((l) => l.msg === 'watch gap: listing again' || l.msg === 'etcd not answering');
  t.is(gaps().length, 1);
  t.regex(String(gaps()[0]!.reason), /^watch disconnected: .*larger than max/);
  await store.put(keys.live('n4'), 'not json');
  await waitFor(() => model.live.has('n4'), { what: 'n4 in the model' });

  const quietUntil = Date.now() + QUIET_MS;
  await waitFor(() => Date.now() > quietUntil || gaps().length > 1, { timeoutMs: QUIET_MS + 5_000, what: 'the quiet period' });
  t.deepEqual(gaps().slice(1), [], 'no gap after the re-list');
  t.is(feed.resyncs, 2);
  t.true(feed.answering);
  t.deepEqual([...model.live.keys()].sort(), ['n1', 'n3', 'n4']);
});
