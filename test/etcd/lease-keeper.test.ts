// The lease keeper against a real etcd: a grant whose answer comes after its caller gave up must not
// leave an orphan lease. The "late answer" is made by wrapping the store: the grant really happens on
// etcd, then the caller is told its deadline passed (what a slow etcd does to a client with a deadline).
import test from 'ava';
import { EtcdTimeoutError, EtcdUnavailableError } from '../../src/errors.js';
import { LeaseKeeper } from '../../src/etcd/lease-keeper.js';
import { Store } from '../../src/etcd/store.js';
import { createLogger } from '../../src/log.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start(1);
});
test.after.always(() => etcd?.destroy());

function leases(): string[] {
  return etcd.etcdctl(['lease', 'list']).split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
}

/** A store whose next grant lands on etcd but is reported to the caller as past its deadline. */
function lateGrants(opts: { revokeFails: number }): { store: Store; granted: string[] } {
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
  const granted: string[] = [];
  const grantWithId = store.grantWithId.bind(store);
  let late = 1;
  store.grantWithId = async (ttl, id) => {
    const g = await grantWithId(ttl, id);
    granted.push(g.id);
    if (late-- > 0) throw new EtcdTimeoutError('lease grant: deadline exceeded');
    return g;
  };
  const revoke = store.revoke.bind(store);
  let fails = opts.revokeFails;
  store.revoke = async (id) => {
    if (fails-- > 0) throw new EtcdTimeoutError('lease revoke: deadline exceeded');
    return revoke(id);
  };
  return { store, granted };
}

test.serial('a grant answered too late is revoked by its id at once', async (t) => {
  const { store, granted } = lateGrants({ revokeFails: 0 });
  t.teardown(() => store.close());
  const keeper = new LeaseKeeper(store, { ttl: 30, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 700 }, createLogger('silent'));
  await t.throwsAsync(keeper.grant(), { instanceOf: EtcdTimeoutError });
  t.is(granted.length, 1, 'the grant did land on etcd');
  // Its TTL is 30 s: only a revoke makes it go this fast.
  await waitFor(() => leases().length === 0, { timeoutMs: 2_000, what: 'the late lease revoked' });
  t.pass();
});

test.serial('if the revoke does not get through either, the next grant takes the late lease over', async (t) => {
  const { store, granted } = lateGrants({ revokeFails: 1 });
  t.teardown(() => store.close());
  const keeper = new LeaseKeeper(store, { ttl: 30, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 700 }, createLogger('silent'));
  await t.throwsAsync(keeper.grant(), { instanceOf: EtcdTimeoutError });
  await new Promise((r) => setTimeout(r, 200)); // the background revoke fails
  t.deepEqual(leases().map((l) => BigInt(`0x${l}`)), [BigInt(`0x${granted[0]}`)], 'the late lease is still there');
  const { grant } = await keeper.grant();
  t.is(grant.id, granted[0], 'the next grant is the late lease, taken over');
  t.deepEqual(leases().map((l) => BigInt(`0x${l}`)), [BigInt(`0x${grant.id}`)], 'one lease, not two');
  await keeper.revoke(grant.id);
});

test('a lost lease is asked for again at a keepalive retry pace while etcd is down, ever slower while it answers late', (t) => {
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
  t.teardown(() => store.close());
  const timing = { ttl: 30, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 700 };
  // The ceiling of the n-th delay in a row, as the largest of many keepers' draws.
  const ceiling = (errs: unknown[]) => {
    let max = 0;
    for (let k = 0; k < 300; k++) {
      const keeper = new LeaseKeeper(store, timing, createLogger('silent'));
      let d = 0;
      for (const e of errs) d = keeper.takeBackDelay(e);
      max = Math.max(max, d);
    }
    return max;
  };
  const down = new EtcdUnavailableError('UNAVAILABLE: No connection established');
  const slow = new EtcdTimeoutError('lease keepalive: deadline exceeded');
  // Down: the keepalive retry pace, 100 ms + full jitter up to a third of the interval (2 s at most).
  t.true(ceiling(Array(8).fill(down)) <= 2_100, 'down: never slower than the keepalive retry');
  // Answering late: doubling from 2 s (+100 ms) to half the TTL.
  const late = [1, 2, 3, 5].map((n) => ceiling(Array(n).fill(slow)));
  t.log(`ceilings after 1, 2, 3, 5 slow take-backs: ${late.map(Math.round).join(', ')} ms`);
  t.true(late[0]! > 1_500 && late[0]! <= 2_100, `first: ${late[0]}`);
  t.true(late[1]! > 3_000 && late[1]! <= 4_100, `second: ${late[1]}`);
  t.true(late[2]! > 6_000 && late[2]! <= 8_100, `third: ${late[2]}`);
  t.true(late[3]! > 12_000 && late[3]! <= 15_100, `capped at half the TTL: ${late[3]}`);
  // etcd down again after answering late: back to the quick pace at once.
  t.true(ceiling([slow, slow, slow, slow, down]) <= 2_100, 'down again: quick again');
});

test('a lease held resets the take-back pace', (t) => {
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
  t.teardown(() => store.close());
  const slow = new EtcdTimeoutError('lease keepalive: deadline exceeded');
  const draws = Array.from({ length: 300 }, () => {
    const keeper = new LeaseKeeper(store, { ttl: 30, keepaliveIntervalMs: 10_000, keepaliveTimeoutMs: 700 }, createLogger('silent'));
    for (let i = 0; i < 6; i++) keeper.takeBackDelay(slow);
    keeper.hold({ id: '1', ttl: 30 }, Date.now());
    keeper.release();
    return keeper.takeBackDelay(slow);
  });
  t.true(Math.max(...draws) <= 2_100, `after a lease was held, the first slow take-back waits ≤ 2.1 s (${Math.round(Math.max(...draws))})`);
});
