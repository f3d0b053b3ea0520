// Store.list reads a prefix in pages (one response for 10,000 nodes is over gRPC's 4 MiB receive limit):
// every key once, nothing from outside the prefix, one snapshot (every page at the first page's revision).
import test from 'ava';
import { Store, type TxnOp } from '../../src/etcd/store.js';
import { EtcdCluster } from '../helpers/etcd.js';

test('list: 2,500 keys over several pages, in order, nothing outside the prefix, one revision', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 10_000, dialTimeoutMs: 5_000 });
  t.teardown(() => store.close());
  const N = 2_500;
  const key = (i: number) => `/p/in/${String(i).padStart(5, '0')}`;
  for (let b = 0; b < N; b += 100) {
    const ops: TxnOp[] = [];
    for (let i = b; i < b + 100; i++) ops.push({ put: key(i), value: 'x'.repeat(200) });
    await store.txn([{ key: '/p/none', target: 'Version', op: '==', value: 0 }], ops);
  }
  // Neighbours a byte-wise range could catch by mistake.
  await store.put('/p/in', 'parent');
  await store.put('/p/in0', 'sibling');
  await store.put('/p/io', 'next prefix');

  const before = await store.list('/p/in/');
  t.is(before.kvs.length, N);
  t.deepEqual(before.kvs.map((kv) => kv.key), Array.from({ length: N }, (_, i) => key(i)));
  // Writes to the last page while listing: every page is read at the first page's revision, so no
  // value newer than the listing's revision may appear (a torn listing would show one).
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing && i < 200; i++) await store.put(key(N - 1), `v${i}`);
  })();
  for (let round = 0; round < 5; round++) {
    const l = await store.list('/p/in/');
    t.is(l.kvs.length, N);
    for (const kv of l.kvs) t.true(BigInt(kv.modRevision) <= BigInt(l.revision), `${kv.key} newer than the listing`);
  }
  writing = false;
  await writer;
  await store.put(key(N + 1), 'late');
  t.is((await store.list('/p/in/')).kvs.length, N + 1);
  t.is((await store.list('/nothing/')).kvs.length, 0);
});
