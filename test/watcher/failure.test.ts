// Failure versus leave, with real agents and a real watcher on a real etcd: SIGKILL is NodeFailed (once,
// within TTL + 1 s, the exec hook run once with the event), SIGTERM is NodeLeft (no remedy), and a node
// that dies while no watcher runs is reported once when one starts.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import {
  getJson,
  hookCalls,
  hookFile,
  nodeEvents,
  outcomes,
  recordingHook,
  startAgent,
  startWatcher,
  stopGracefully,
  waitEvent,
  waitLeading,
} from './support.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

const TTL_S = 3;

test.serial('SIGKILL: exactly one NodeFailed within TTL + 1 s, and the exec hook ran once with the event', async (t) => {
  const prefix = '/t-kill';
  const calls = hookFile();
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1', `${TTL_S}s`);
  const watcher = startWatcher(t, { endpoints: etcd.endpoints, prefix, id: 'w-kill', hooks: [recordingHook(calls)] });
  await waitLeading(watcher);
  const joined = await waitEvent(watcher, 'NodeJoined', 'n1');
  t.is(joined.previous, 'unknown');

  const killedAt = Date.now();
  await agent.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'n1', 10_000);
  const latency = Date.parse(failed.time as string) - killedAt;
  t.true(latency <= TTL_S * 1000 + 1000, `NodeFailed ${latency} ms after SIGKILL`);
  t.is(failed.reason, 'LeaseExpired');
  t.is(failed.detectedBy, 'watch');
  t.is(failed.lease, joined.lease);
  t.is(failed.id, `n1.${joined.lease}.NodeFailed`);

  // The hook ran once, with the event on stdin and in its environment.
  const outcome = await waitFor(() => outcomes(watcher, 'remedy')[0], { timeoutMs: 10_000, what: 'hook outcome' });
  t.like(outcome, { event: 'NodeFailed', node: 'n1', outcome: { state: 'ok', attempts: 1 } });
  const [call, ...more] = hookCalls(calls);
  t.deepEqual(more, []);
  const env = call!.env as Record<string, string>;
  t.like(env, {
    BEACON_EVENT: 'NodeFailed',
    BEACON_NODE: 'n1',
    BEACON_NODE_ADDRESS: joined.address,
    BEACON_EVENT_ID: failed.id,
    BEACON_IDEMPOTENCY_KEY: failed.id,
    BEACON_NODE_LEASE: joined.lease,
    BEACON_HOOK: 'remedy',
    BEACON_ATTEMPT: '1',
    BEACON_WATCHER_ID: 'w-kill',
  });
  t.like(call!.stdin, { event: 'NodeFailed', node: 'n1', id: failed.id, idempotencyKey: failed.id, address: joined.address });

  // Recorded in etcd: the status, the event with the hook's outcome (under a lease), the reaction done.
  t.like(getJson(etcd, `${prefix}/v1/watcher/status/n1`), { state: 'failed', lease: joined.lease, reason: 'LeaseExpired' });
  const reaction = await waitFor(() => {
    const r = getJson(etcd, `${prefix}/v1/watcher/reactions/${failed.id}.remedy`);
    return r?.state === 'done' ? r : undefined;
  });
  t.like(reaction, { hook: 'remedy', owner: null, outcome: { state: 'ok' } });
  const event = await waitFor(() => {
    const e = getJson(etcd, `${prefix}/v1/watcher/events/${failed.id}`);
    return (e?.hooks as Record<string, { state: string }> | undefined)?.remedy?.state === 'ok' ? e : undefined;
  });
  t.is(event.event, 'NodeFailed');
  t.regex(etcd.etcdctl(['get', `${prefix}/v1/watcher/events/${failed.id}`, '-w', 'json']), /"lease":[1-9]/);
  t.is(nodeEvents(watcher, 'NodeFailed').length, 1);
  t.is(hookCalls(calls).length, 1);
});

test('SIGTERM: NodeLeft, and the remedy hook does not run', async (t) => {
  const prefix = '/t-leave';
  const remedyCalls = hookFile();
  const alertCalls = hookFile();
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n2', `${TTL_S}s`);
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-leave',
    hooks: [
      recordingHook(remedyCalls, { events: ['NodeFailed'] }),
      recordingHook(alertCalls, { name: 'notify', events: ['NodeLeft'], alertOnly: true }),
    ],
  });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n2');
  await agent.stop('SIGTERM');
  const left = await waitEvent(watcher, 'NodeLeft', 'n2', 5_000);
  t.is(left.reason, 'Left');
  // The leave marker and the delete are two revisions; when etcd hands both over in one watch response
  // (a loaded machine), the watcher goes from up to left in one step and never records `leaving`.
  t.true(left.previous === 'leaving' || left.previous === 'up', `previous: ${String(left.previous)}`);
  t.deepEqual(
    nodeEvents(watcher, undefined, 'n2').map((e) => e.event),
    ['NodeJoined', 'NodeLeft'],
    'nothing between the join and the leave',
  );
  // The alert hook for NodeLeft finished: by then a NodeFailed remedy would have been recorded too.
  await waitFor(() => outcomes(watcher, 'notify')[0], { what: 'notify outcome' });
  t.is(hookCalls(alertCalls).length, 1);
  t.deepEqual(nodeEvents(watcher, 'NodeFailed'), []);
  t.deepEqual(hookCalls(remedyCalls), []);
  t.like(getJson(etcd, `${prefix}/v1/watcher/status/n2`), { state: 'left', reason: 'Left' });
});

test('a node that dies while no watcher runs is reported once, when a watcher starts', async (t) => {
  const prefix = '/t-offline';
  const calls = hookFile();
  const spec = { endpoints: etcd.endpoints, prefix, hooks: [recordingHook(calls)] };
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n3', `${TTL_S}s`);
  const first = startWatcher(t, { ...spec, id: 'w-first' });
  await waitLeading(first);
  await waitEvent(first, 'NodeJoined', 'n3');
  await first.stop('SIGKILL');

  await agent.stop('SIGKILL');
  await waitFor(() => !etcd.etcdctl(['get', `${prefix}/v1/nodes/n3/live`, '--keys-only']).trim(), {
    timeoutMs: 10_000,
    what: 'the live key to expire',
  });

  const second = startWatcher(t, { ...spec, id: 'w-second' });
  const failed = await waitEvent(second, 'NodeFailed', 'n3', 15_000);
  t.is(failed.detectedBy, 'resync');
  t.is(failed.previous, 'up');
  await waitFor(() => outcomes(second, 'remedy')[0], { what: 'hook outcome' });
  await stopGracefully(second);

  // A third start finds everything already reported.
  const third = startWatcher(t, { ...spec, id: 'w-third' });
  await waitLeading(third);
  t.deepEqual(nodeEvents(third), []);
  t.is(nodeEvents(second, 'NodeFailed').length, 1);
  t.is(hookCalls(calls).length, 1);
});
