// The leader's transitions recorded against a real etcd and a real election: those of one tick share a
// transaction (split below etcd's operation limit), a refused shared transaction falls back to one per
// node, and an event about no one node is recorded alone.
import test from 'ava';
import pino from 'pino';
import type { HookConfig } from '../../src/config/watcher.js';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import { decide } from '../../src/watcher/classify.js';
import { Election } from '../../src/watcher/election.js';
import { partitionEvent, reactionsFor, withHooks } from '../../src/watcher/event-records.js';
import { RecordKeeper, type TransitionWrite } from '../../src/watcher/record-keeper.js';
import { TransitionRecorder } from '../../src/watcher/transition-recorder.js';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { liveRecord } from '../helpers/records.js';

const log = pino({ level: 'silent' });
const HOOKS: HookConfig[] = [
  { name: 'notify', kind: 'exec', command: ['/bin/true'], env: {}, events: ['NodeJoined', 'PartitionSuspected'], timeoutMs: 1000, retries: 0, backoffMs: 100, concurrency: 1, alertOnly: true },
];

let etcd: EtcdCluster;
let store: Store;
test.before(async () => {
  etcd = await EtcdCluster.start();
  store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 5_000, dialTimeoutMs: 5_000 });
});
test.after.always(async () => {
  store?.close();
  await etcd?.destroy();
});

// A recorder for a leader elected under its own prefix; stopped when the test ends.
async function leader(t: { teardown(fn: () => unknown): void }, prefix: string) {
  const keys = new Keys(prefix);
  const election = new Election(store, keys, { id: 'w1', ttl: 5, keepaliveIntervalMs: 1_666, keepaliveTimeoutMs: 700 }, log);
  const stop = new AbortController();
  const run = election.run(stop.signal);
  t.teardown(async () => {
    stop.abort();
    await run;
  });
  await waitFor(() => election.isLeader, { timeoutMs: 30_000, what: 'elected' });
  const records = new RecordKeeper(store, keys, election, 60_000, () => undefined, log);
  return { keys, recorder: new TransitionRecorder(records, store, keys), term: stop.signal };
}

// A node joining, as the leader records it: its status, the NodeJoined event and one reaction.
function joined(node: string): TransitionWrite {
  const now = Date.now();
  const d = decide({ node, live: { lease: '390da21e114c7205', modRevision: '5', record: liveRecord({ name: node }) } }, undefined, new Date(now), 'resync');
  const events = d.events.map((e) => withHooks(e, HOOKS));
  return { node, statusMod: '0', status: d.status, events, reactions: events.flatMap((e) => reactionsFor(e, HOOKS, 0, now)) };
}

test('transitions of one tick share one transaction', async (t) => {
  const { keys, recorder, term } = await leader(t, '/t-rec-shared');
  const results = await Promise.all(['n1', 'n2', 'n3'].map((n) => recorder.together(joined(n), term)));
  t.true(results.every((r) => r.ok));
  t.is(new Set(results.map((r) => (r.ok ? r.revision : ''))).size, 1, 'one revision: one transaction');
  const { kvs } = await store.list(keys.statuses);
  t.deepEqual(kvs.map((kv) => JSON.parse(kv.value.toString()).node).sort(), ['n1', 'n2', 'n3']);
  t.is((await store.list(keys.reactions)).kvs.length, 3);
  const event = await store.get(keys.watcherEvent('n1.390da21e114c7205.NodeJoined'));
  t.truthy(event?.lease, 'events go under the retention lease');
  t.is((await store.get(keys.status('n1')))?.lease, '', 'statuses have no lease');
});

test("a tick's transitions are split below etcd's operation limit", async (t) => {
  const { keys, recorder, term } = await leader(t, '/t-rec-split');
  // 3 operations each (status, event, reaction): 60 transitions need two transactions of at most 100.
  const nodes = Array.from({ length: 60 }, (_, i) => `n${i}`);
  const results = await Promise.all(nodes.map((n) => recorder.together(joined(n), term)));
  t.true(results.every((r) => r.ok));
  t.is(new Set(results.map((r) => (r.ok ? r.revision : ''))).size, 2);
  t.is((await store.list(keys.statuses)).kvs.length, 60);
});

test('a refused shared transaction is recorded node by node: only the stale one conflicts', async (t) => {
  const { keys, recorder, term } = await leader(t, '/t-rec-conflict');
  // Another leader's late write: n2's status is no longer where this one compares it.
  await store.put(keys.status('n2'), JSON.stringify(joined('n2').status));
  const results = await Promise.all(['n1', 'n2', 'n3'].map((n) => recorder.together(joined(n), term)));
  t.deepEqual(results.map((r) => (r.ok ? 'ok' : r.why)), ['ok', 'conflict', 'ok']);
  const revisions = results.flatMap((r) => (r.ok ? [r.revision] : []));
  t.not(revisions[0], revisions[1], 'each in a transaction of its own');
  t.deepEqual((await store.list(keys.reactions)).kvs.map((kv) => JSON.parse(kv.value.toString()).event.node).sort(), ['n1', 'n3']);
});

test('an event about no one node is recorded alone, with its reactions', async (t) => {
  const { keys, recorder, term } = await leader(t, '/t-rec-alone');
  const now = Date.now();
  const event = withHooks(partitionEvent({ tripped: true, nodes: ['n1', 'n2'], known: 2 }, now), HOOKS);
  const res = await recorder.together({ statusMod: '0', events: [event], reactions: reactionsFor(event, HOOKS, 0, now) }, term);
  t.true(res.ok);
  t.is(JSON.parse((await store.get(keys.watcherEvent(event.id)))!.value.toString()).event, 'PartitionSuspected');
  t.is((await store.list(keys.reactions)).kvs.length, 1);
  t.is((await store.list(keys.statuses)).kvs.length, 0);
});
