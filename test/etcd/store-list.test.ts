// Store.list reads a prefix in pages (one response for 10,000 nodes is over gRPC's 4 MiB receive limit):
// every key once, nothing from outside the prefix, one snapshot (every page at the first page's revision);
// pages too large to receive are read again smaller, and a value too large alone comes back by name.
import test from 'ava';
import { isRetryable } from '../../src/errors.js';
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

// Values near etcd's default request limit (--max-request-bytes 1.5 MiB): any node may write these under
// its own prefix with its own credentials. Four of them made a listing fail at gRPC's default 4 MiB.
const BIG = 1.4 * 1024 * 1024;

/** A store on `etcd`, closed at the end of the test; `maxReceiveBytes` lowers the client's receive limit. */
function storeOn(t: { teardown(fn: () => void): void }, etcd: EtcdCluster, maxReceiveBytes?: number): Store {
  const cfg = { endpoints: etcd.endpoints.split(','), requestTimeoutMs: 20_000, dialTimeoutMs: 5_000 };
  const store = Store.connect(cfg, maxReceiveBytes === undefined ? {} : { maxReceiveBytes });
  t.teardown(() => store.close());
  return store;
}

// Small records interleaved with big ones: /p/big/k00 (small), /p/big/k01 (big), ... every third key big.
async function fillMixed(store: Store, n: number): Promise<Map<string, string>> {
  const want = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const key = `/p/big/k${String(i).padStart(2, '0')}`;
    // Each big value differs (its first character), so a value handed back under the wrong key shows.
    const value = i % 3 === 1 ? String.fromCharCode(97 + i).repeat(BIG) : `{"small":${i}}`;
    await store.put(key, value);
    want.set(key, value);
  }
  return want;
}

test('list: several 1.4 MiB values beside small ones, default receive limit: every key, every value intact', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = storeOn(t, etcd);
  const want = await fillMixed(store, 12); // 4 big values: 5.6 MiB in one response
  const l = await store.list('/p/big/');
  t.deepEqual(l.kvs.map((kv) => kv.key), [...want.keys()]);
  for (const kv of l.kvs) {
    t.true(kv.value.toString() === want.get(kv.key), kv.key);
    t.is(kv.tooLarge, undefined);
  }
});

test('list: a page over the receive limit is read again in smaller pages, at the same revision', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  // gRPC's default limit, the one that failed: 6 big values (8.4 MiB) cannot come in one response.
  const store = storeOn(t, etcd, 4 * 1024 * 1024);
  const want = await fillMixed(store, 18);
  // The same keys in one response are over the limit, with its own typed error (not "etcd unavailable").
  const whole = await t.throwsAsync(store.getMany([...want.keys()]));
  t.is(whole?.name, 'EtcdMessageTooLargeError');
  t.false(isRetryable(whole));

  const l = await store.list('/p/big/');
  t.deepEqual(l.kvs.map((kv) => kv.key), [...want.keys()]);
  for (const kv of l.kvs) {
    t.true(kv.value.toString() === want.get(kv.key), kv.key);
    t.is(kv.tooLarge, undefined);
    t.true(BigInt(kv.modRevision) <= BigInt(l.revision));
  }
  t.is(l.revision, String(etcd.revision()));
});

test('list: a value too large for the receive limit comes back by name, tooLarge with an empty value', async (t) => {
  const etcd = await EtcdCluster.start(1);
  t.teardown(() => etcd.destroy());
  const store = storeOn(t, etcd, 1024 * 1024); // below one big value
  const want = await fillMixed(store, 9);
  await t.throwsAsync(store.get('/p/big/k01'), { name: 'EtcdMessageTooLargeError' });
  const big = [...want.keys()].filter((_, i) => i % 3 === 1);

  const l = await store.list('/p/big/');
  t.deepEqual(l.kvs.map((kv) => kv.key), [...want.keys()]);
  for (const kv of l.kvs) {
    if (big.includes(kv.key)) {
      t.true(kv.tooLarge, kv.key);
      t.is(kv.value.length, 0);
      // Its metadata is real: it is the key's, read at the listing's revision.
      t.is(kv.version, '1');
      t.true(BigInt(kv.modRevision) > 1n && BigInt(kv.modRevision) <= BigInt(l.revision));
    } else {
      t.true(kv.value.toString() === want.get(kv.key), kv.key);
      t.is(kv.tooLarge, undefined);
    }
  }
  // Only the prefix: nothing after it is reached while stepping over the big keys.
  await store.put('/p/big0', 'next prefix');
  t.is((await store.list('/p/big/')).kvs.length, want.size);
});
