// The one rotating retention lease (agent problem events, the watcher's events and reactions), against a
// real etcd: a lease takes records for `renewEveryMs` and then a new one is granted, with TTL retention +
// renewEveryMs; writers at once share one grant; a lease found gone is replaced once per use.
import test from 'ava';
import { RetentionLease } from '../../src/etcd/retention-lease.js';
import { Store } from '../../src/etcd/store.js';
import { LeaseLostError } from '../../src/errors.js';
import { EtcdCluster } from '../helpers/etcd.js';

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

test('one lease while it takes records, a new one after renewEveryMs, granted for retention + renewEveryMs', async (t) => {
  let now = 1_000_000;
  const grants: { lease: string; ttl: number }[] = [];
  const r = new RetentionLease(store, { retentionMs: 40_000, renewEveryMs: 10_000, now: () => now, onGrant: (lease, ttl) => grants.push({ lease, ttl }) });
  t.is(r.ttlSeconds, 50);
  const [a, b, c] = await Promise.all([r.current(), r.current(), r.current()]);
  t.is(b, a, 'writers at once share one grant');
  t.is(c, a);
  now += 9_999;
  t.is(await r.current(), a, 'still taking records');
  now += 1;
  const d = await r.current();
  t.not(d, a, 'replaced once renewEveryMs has passed');
  t.is(r.grants, 2);
  t.deepEqual(grants.map((g) => g.lease), [a, d]);
  t.true(grants.every((g) => g.ttl === 50), JSON.stringify(grants));
  t.is((await store.timeToLive(d)).grantedTtl, 50);
});

test('a lease found gone is replaced and the write tried once more; a second loss is the caller’s', async (t) => {
  const lost: string[] = [];
  const r = new RetentionLease(store, { retentionMs: 10_000, renewEveryMs: 5_000, onLost: (lease) => lost.push(lease) });
  const first = await r.current();
  await store.revoke(first);
  const key = '/t-retention/k';
  const used: string[] = [];
  await r.use(async (lease) => {
    used.push(lease);
    await store.put(key, 'v', lease);
  });
  t.is(used.length, 2);
  t.is(used[0], first);
  t.not(used[1], first);
  t.deepEqual(lost, [first]);
  t.is((await store.get(key))?.lease, used[1]);
  await t.throwsAsync(
    r.use(async () => {
      throw new LeaseLostError('gone again');
    }),
    { instanceOf: LeaseLostError },
  );
});
