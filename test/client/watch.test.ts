// watchEndpoints against a real etcd and real agents: full snapshots on add and remove, after etcd restarts
// (the watch breaks and the service is listed again), and after its revision was compacted.
import test from 'ava';
import { connect, watchEndpointsOn, type BeaconClient, type EndpointSnapshot } from '../../src/client/index.js';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import type { BeaconProcess } from '../helpers/process.js';
import { startAgent } from './support.js';

let etcd: EtcdCluster;
let client: BeaconClient;
const agents: BeaconProcess[] = [];

test.before(async () => {
  etcd = await EtcdCluster.start();
  client = await connect({ etcd: etcd.endpoints, env: {} });
});

test.after.always(async () => {
  client?.close();
  await Promise.all(agents.map((a) => a.stop('SIGKILL')));
  await etcd?.destroy();
});

async function agent(node: string, services: string[]): Promise<BeaconProcess> {
  const a = await startAgent(etcd.endpoints, node, Object.fromEntries(services.map((s) => [s, []])));
  agents.push(a);
  return a;
}

const nodesOf = (s: EndpointSnapshot | undefined) => s?.endpoints.map((e) => e.node).join(',');

/** Collects snapshots; `until(nodes)` waits for one whose node list is `nodes` (comma-separated). */
function recorder() {
  const seen: EndpointSnapshot[] = [];
  return {
    seen,
    onSnapshot: (s: EndpointSnapshot) => seen.push(s),
    until: (nodes: string, timeoutMs = 20_000) =>
      waitFor(() => nodesOf(seen.at(-1)) === nodes, { timeoutMs, what: `snapshot [${nodes}] (got ${seen.map((s) => `[${nodesOf(s)}]`).join(' ')})` }),
  };
}

test.serial('a full snapshot on start, on add, on remove, and again after etcd restarts', async (t) => {
  await agent('a1', ['web']);
  const rec = recorder();
  const outages: (Error | undefined)[] = [];
  const stop = new AbortController();
  const done = client.watchEndpoints('web', rec.onSnapshot, { signal: stop.signal, debounceMs: 50, onOutage: (e) => outages.push(e) });
  try {
    await rec.until('a1');
    const b = await agent('b1', ['web', 'other']);
    await rec.until('a1,b1');
    t.true(rec.seen.every((s) => s.endpoints.every((e) => e.service === 'web')), 'only the watched service');
    await b.stop('SIGTERM'); // a graceful leave revokes the lease: the endpoint goes at once
    await rec.until('a1');

    await etcd.members[0]!.stop();
    await waitFor(() => outages.some((e) => e instanceof Error), { timeoutMs: 15_000, what: 'outage reported' });
    await etcd.members[0]!.start();
    await waitFor(() => outages.at(-1) === undefined, { timeoutMs: 20_000, what: 'recovery reported' });
    await agent('c1', ['web']);
    await rec.until('a1,c1', 30_000);
    // Every snapshot is a whole set, and a set equal to the last one is not delivered again.
    t.deepEqual(rec.seen.map(nodesOf), ['a1', 'a1,b1', 'a1', 'a1,c1']);
  } finally {
    stop.abort();
    await done;
  }
});

test.serial('after the watched revision is compacted, the service is listed again and the set is right', async (t) => {
  const keys = new Keys();
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 2_000, dialTimeoutMs: 2_000 });
  // The seam: the first watch is held back until the changes after the listing are compacted away.
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let watches = 0;
  const held = {
    list: store.list.bind(store),
    count: store.count.bind(store),
    watch: async (prefix: string, from: string) => {
      if (watches++ === 0) await released;
      return store.watch(prefix, from);
    },
    requestTimeoutMs: 60_000,
  };
  const d = await agent('d1', ['db']);
  await agent('e1', ['db']);
  const rec = recorder();
  const outages: (Error | undefined)[] = [];
  const stop = new AbortController();
  const done = watchEndpointsOn(held, keys, 'db', rec.onSnapshot, { signal: stop.signal, debounceMs: 50, onOutage: (e) => outages.push(e) });
  try {
    await rec.until('d1,e1');
    await d.stop('SIGTERM');
    await agent('f1', ['db']);
    t.regex(etcd.etcdctl(['compact', String(etcd.revision())]), /compacted revision/);
    release();
    await rec.until('e1,f1');
    t.true(watches >= 2, 'the watch was created again after the compaction');
    t.true(outages.some((e) => e instanceof Error && /canceled/i.test(e.message)), `the compaction was noticed (${outages.map(String).join('; ')})`);
    t.deepEqual(rec.seen.map(nodesOf), ['d1,e1', 'e1,f1'], 'no partial set in between');
  } finally {
    stop.abort();
    await done;
    store.close();
  }
});

test.serial('a hung etcd (SIGSTOP) is noticed by the probe; after it resumes the set is listed again', async (t) => {
  await agent('g1', ['cache']);
  const h = await agent('h1', ['cache']);
  const rec = recorder();
  const outages: (Error | undefined)[] = [];
  const stop = new AbortController();
  const done = client.watchEndpoints('cache', rec.onSnapshot, { signal: stop.signal, debounceMs: 50, probeIntervalMs: 500, onOutage: (e) => outages.push(e) });
  try {
    await rec.until('g1,h1');
    etcd.members[0]!.signal('SIGSTOP');
    try {
      // etcd3 says nothing about a hung server: only the probe can tell.
      await waitFor(() => outages.some((e) => e instanceof Error), { timeoutMs: 15_000, what: 'the probe reporting the hung etcd' });
    } finally {
      etcd.members[0]!.signal('SIGCONT');
    }
    await waitFor(() => outages.at(-1) === undefined, { timeoutMs: 20_000, what: 'a fresh listing after SIGCONT' });
    await h.stop('SIGTERM');
    await rec.until('g1', 30_000);
    t.deepEqual(rec.seen.map(nodesOf), ['g1,h1', 'g1']);
  } finally {
    stop.abort();
    await done;
  }
});
