// The one list-then-watch follower, against a real etcd: it lists at a revision and watches from the next,
// hands one etcd response's events over together, lists again when its revision was compacted away or
// its stream went silent (seams on a real Store hold the watch back, or swallow its events), and an owner's
// resync ends the watch. NodeFeed and follow() build on it; their own tests cover what they add.
import test from 'ava';
import { EventEmitter } from 'node:events';
import { Follower, type FollowGap, type FollowStore } from '../../src/etcd/follower.js';
import { Store, type KeyValue, type PrefixWatch, type WatchEvent } from '../../src/etcd/store.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';

let etcd: EtcdCluster;
let store: Store;

test.before(async () => {
  etcd = await EtcdCluster.start(1);
  store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
});

test.after.always(async () => {
  store?.close();
  await etcd?.destroy();
});

/** What a follower told its owner, in order. */
function recorder(gapWaits = false) {
  const r = {
    listings: [] as { keys: string[]; revision: string }[],
    batches: [] as WatchEvent[][],
    gaps: [] as FollowGap[],
    /** Keys present now, by listing and events. */
    keys: new Set<string>(),
    sink: {
      listed(kvs: readonly KeyValue[], revision: string) {
        r.listings.push({ keys: kvs.map((kv) => kv.key).sort(), revision });
        r.keys = new Set(kvs.map((kv) => kv.key));
      },
      events(evs: readonly WatchEvent[]) {
        r.batches.push([...evs]);
        for (const ev of evs) ev.type === 'put' ? r.keys.add(ev.kv.key) : r.keys.delete(ev.kv.key);
      },
      gap(gap: FollowGap) {
        r.gaps.push(gap);
        return gapWaits;
      },
    },
  };
  return r;
}

const timing = { probeIntervalMs: 300, requestTimeoutMs: 2_000 };
const why = (g: FollowGap) => ('err' in g ? `${g.kind}: ${g.err.message}` : `${g.kind}: ${g.reason}`);

test.serial('lists at a revision, watches from the next, and hands one response over as one batch', async (t) => {
  const prefix = '/t-follower/batch/';
  etcd.etcdctl(['put', `${prefix}a`, '1']);
  const rec = recorder();
  const stop = new AbortController();
  const done = new Follower(store, prefix, timing, rec.sink).run(stop.signal);
  try {
    await waitFor(() => rec.listings.length === 1, { timeoutMs: 10_000, what: 'the first listing' });
    t.deepEqual(rec.listings[0]!.keys, [`${prefix}a`]);
    t.is(Number(rec.listings[0]!.revision), etcd.revision());
    // One transaction: one revision, one watch response, one batch.
    await store.txn([{ key: `${prefix}a`, target: 'Version', op: '>', value: 0 }], [
      { put: `${prefix}b`, value: '2' },
      { put: `${prefix}c`, value: '3' },
      { delete: `${prefix}a` },
    ]);
    await waitFor(() => rec.batches.length >= 1, { timeoutMs: 10_000, what: 'the batch' });
    t.deepEqual(
      rec.batches[0]!.map((ev) => `${ev.type} ${ev.kv.key}`),
      [`put ${prefix}b`, `put ${prefix}c`, `delete ${prefix}a`],
    );
    t.deepEqual([...rec.keys].sort(), [`${prefix}b`, `${prefix}c`]);
    t.deepEqual(rec.gaps.map(why), [], 'no gap while etcd answers');
  } finally {
    stop.abort();
    await done;
  }
});

test.serial('a watch whose revision was compacted away is a gap, and the listing after it has every change', async (t) => {
  const prefix = '/t-follower/compact/';
  etcd.etcdctl(['put', `${prefix}a`, '1']);
  // The seam: the first watch is held back until the changes after the listing are compacted away.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let watches = 0;
  const held: FollowStore = {
    list: store.list.bind(store),
    count: store.count.bind(store),
    watch: async (p, from, opts) => {
      if (watches++ === 0) await released;
      return store.watch(p, from, opts);
    },
  };
  const rec = recorder();
  const stop = new AbortController();
  const done = new Follower(held, prefix, { probeIntervalMs: 60_000, requestTimeoutMs: 60_000 }, rec.sink).run(stop.signal);
  try {
    await waitFor(() => rec.listings.length === 1 && watches === 1, { timeoutMs: 10_000, what: 'the first listing' });
    etcd.etcdctl(['put', `${prefix}b`, '2']);
    etcd.etcdctl(['del', `${prefix}a`]);
    t.regex(etcd.etcdctl(['compact', String(etcd.revision())]), /compacted revision/);
    release();
    await waitFor(() => rec.listings.length === 2, { timeoutMs: 15_000, what: 'a second listing' });
    t.deepEqual(rec.listings[1]!.keys, [`${prefix}b`]);
    t.true(
      rec.gaps.some((g) => (g.kind === 'cancelled' || g.kind === 'watch') && /compact|cancel/i.test(g.err.message)),
      rec.gaps.map(why).join('; '),
    );
    // And it follows again: the new watch delivers.
    etcd.etcdctl(['put', `${prefix}c`, '3']);
    await waitFor(() => rec.keys.has(`${prefix}c`), { timeoutMs: 10_000, what: 'c by the new watch' });
    t.is(rec.listings.length, 2, 'c came as an event, not by another listing');
  } finally {
    stop.abort();
    await done;
  }
});

test.serial('a watch stream gone silent is noticed by the probe count, and the follower lists again', async (t) => {
  const prefix = '/t-follower/silent/';
  etcd.etcdctl(['put', `${prefix}a`, '1']);
  // The seam: the first watch is real but its events never reach the follower (a stream held by a hung
  // member looks like this: open, and silent).
  let watches = 0;
  const swallowing: FollowStore = {
    list: store.list.bind(store),
    count: store.count.bind(store),
    watch: async (p, from, opts) => {
      const w = await store.watch(p, from, opts);
      if (watches++ > 0) return w;
      const silent = new EventEmitter() as PrefixWatch;
      silent.cancel = () => w.cancel();
      return silent;
    },
  };
  const rec = recorder();
  const stop = new AbortController();
  const done = new Follower(swallowing, prefix, timing, rec.sink).run(stop.signal);
  try {
    await waitFor(() => rec.listings.length === 1, { timeoutMs: 10_000, what: 'the first listing' });
    etcd.etcdctl(['put', `${prefix}b`, '2']);
    await waitFor(() => rec.listings.length === 2, { timeoutMs: 15_000, what: 'a listing after the silence' });
    t.deepEqual(rec.listings[1]!.keys, [`${prefix}a`, `${prefix}b`]);
    t.deepEqual(rec.batches, [], 'nothing came through the silent stream');
    t.true(rec.gaps.some((g) => g.kind === 'silent' && /^watch silent/.test(g.reason)), rec.gaps.map(why).join('; '));
    etcd.etcdctl(['put', `${prefix}c`, '3']);
    await waitFor(() => rec.keys.has(`${prefix}c`), { timeoutMs: 10_000, what: 'c by the second watch' });
  } finally {
    stop.abort();
    await done;
  }
});

test.serial('resync() ends the watch and lists again; a failed listing waits when the owner says so', async (t) => {
  const prefix = '/t-follower/resync/';
  let failLists = 0;
  const flaky: FollowStore = {
    list: async (p) => {
      if (failLists > 0) {
        failLists--;
        throw new Error('refused by the seam');
      }
      return store.list(p);
    },
    count: store.count.bind(store),
    watch: store.watch.bind(store),
  };
  const rec = recorder(true);
  const stop = new AbortController();
  const follower = new Follower(flaky, prefix, timing, rec.sink);
  const done = follower.run(stop.signal);
  try {
    await waitFor(() => rec.listings.length === 1, { timeoutMs: 10_000, what: 'the first listing' });
    failLists = 2;
    follower.resync('asked');
    await waitFor(() => rec.listings.length === 2, { timeoutMs: 15_000, what: 'a listing after two refusals' });
    t.deepEqual(rec.gaps.map(why), ['requested: asked', 'list: refused by the seam', 'list: refused by the seam']);
  } finally {
    stop.abort();
    await done;
  }
});
