// Several watchers, one reaction: only the elected leader reports and runs hooks; when it dies with a
// reaction pending, a standby takes over and completes it once; a hook interrupted mid-run is run again
// (the documented at-least-once window) with the same idempotency key.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import type { BeaconProcess } from '../helpers/process.js';
import {
  getJson,
  hookCalls,
  hookFile,
  nodeEvents,
  outcomes,
  recordingHook,
  startAgent,
  startWatcher,
  waitEvent,
  waitLeading,
  type WatcherSpec,
} from './support.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

// Start two watchers; resolves [leader, standby] once the leader is in sync and the standby campaigns.
async function pair(t: Parameters<typeof startWatcher>[0], spec: Omit<WatcherSpec, 'id'>, name: string): Promise<[BeaconProcess, BeaconProcess]> {
  const a = startWatcher(t, { ...spec, id: `${name}-a` });
  await waitLeading(a);
  const b = startWatcher(t, { ...spec, id: `${name}-b` });
  // A grant that times out on a loaded machine backs off (full jitter, growing: docs/agent.md), so the
  // standby may take tens of seconds to campaign when the whole suite runs (seen: over 10 s).
  await b.waitLine((l) => l.msg === 'campaigning', 45_000);
  return [a, b];
}

test.serial('steady state: two watchers and an agent leave etcd\'s revision alone', async (t) => {
  const prefix = '/t-steady';
  await startAgent(t, etcd.endpoints, prefix, 'n0');
  const [leader] = await pair(t, { endpoints: etcd.endpoints, prefix }, 'steady');
  await waitEvent(leader, 'NodeJoined', 'n0');
  const rev = etcd.revision();
  const since = Date.now();
  // Keepalives, probes and election checks are not writes: nothing may move for several TTLs.
  await waitFor(() => (etcd.revision() !== rev ? Promise.reject(new Error('revision moved')) : Date.now() - since > 8_000), {
    timeoutMs: 15_000,
    intervalMs: 500,
    what: 'eight quiet seconds',
  });
  t.is(etcd.revision(), rev);
});

test('two watchers: one NodeFailed, one reaction', async (t) => {
  const prefix = '/t-two';
  const calls = hookFile();
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1');
  const [leader, standby] = await pair(t, { endpoints: etcd.endpoints, prefix, hooks: [recordingHook(calls)] }, 'two');
  await waitEvent(leader, 'NodeJoined', 'n1');
  await agent.stop('SIGKILL');
  const failed = await waitEvent(leader, 'NodeFailed', 'n1', 10_000);
  await waitFor(() => outcomes(leader, 'remedy')[0], { what: 'hook outcome' });
  t.is(hookCalls(calls).length, 1);
  t.is((hookCalls(calls)[0]!.env as Record<string, string>).BEACON_EVENT_ID, failed.id as string);
  t.deepEqual(nodeEvents(standby), []);
  t.deepEqual(outcomes(standby), []);
  t.is(nodeEvents(leader, 'NodeFailed').length, 1);
});

test('leader SIGKILLed while a reaction is pending: the standby completes it, once', async (t) => {
  const prefix = '/t-takeover';
  const calls = hookFile();
  // The hold keeps the remedy pending long enough to kill the leader first.
  const spec = { endpoints: etcd.endpoints, prefix, hooks: [recordingHook(calls)], watcher: { massFailure: { hold: '6s' } } };
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n2');
  const [leader, standby] = await pair(t, spec, 'takeover');
  await waitEvent(leader, 'NodeJoined', 'n2');
  await agent.stop('SIGKILL');
  const failed = await waitEvent(leader, 'NodeFailed', 'n2', 10_000);
  await leader.stop('SIGKILL');
  t.deepEqual(hookCalls(calls), []);

  const lead = await standby.waitLine((l) => l.msg === 'leading: reconciling', 10_000);
  t.is(lead.resumed, 1);
  const outcome = await waitFor(() => outcomes(standby, 'remedy')[0], { timeoutMs: 15_000, what: 'hook outcome' });
  t.like(outcome, { id: failed.id, outcome: { state: 'ok', attempts: 1 } });
  const [call, ...more] = hookCalls(calls);
  t.deepEqual(more, []);
  t.like(call!.env, { BEACON_EVENT_ID: failed.id, BEACON_WATCHER_ID: 'takeover-b', BEACON_ATTEMPT: '1' });
  // The standby did not report the failure again: the status record said it was reported.
  await standby.waitLine((l) => l.msg === 'in sync');
  t.deepEqual(nodeEvents(standby), []);
  t.like(getJson(etcd, `${prefix}/v1/watcher/reactions/${failed.id}.remedy`), { state: 'done', owner: null });
});

test('leader SIGKILLed while a hook runs: the standby runs it again with the same idempotency key', async (t) => {
  const prefix = '/t-rerun';
  const calls = hookFile();
  t.teardown(() => {
    for (const c of hookCalls(calls)) {
      try {
        process.kill(c.pid as number, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const hook = recordingHook(calls, { timeout: '1m' }, { HOOK_MODE: 'hang-first' });
  const spec = { endpoints: etcd.endpoints, prefix, hooks: [hook], watcher: { massFailure: { hold: '0s' } } };
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n3');
  const [leader, standby] = await pair(t, spec, 'rerun');
  await waitEvent(leader, 'NodeJoined', 'n3');
  await agent.stop('SIGKILL');
  const failed = await waitEvent(leader, 'NodeFailed', 'n3', 10_000);
  await waitFor(() => hookCalls(calls).length === 1, { what: 'the first (hanging) run' });
  await leader.stop('SIGKILL');

  const outcome = await waitFor(() => outcomes(standby, 'remedy')[0], { timeoutMs: 15_000, what: 'hook outcome' });
  t.like(outcome, { id: failed.id, outcome: { state: 'ok', attempts: 1 } });
  const runs = hookCalls(calls);
  t.is(runs.length, 2);
  t.deepEqual(
    runs.map((r) => (r.env as Record<string, string>).BEACON_IDEMPOTENCY_KEY),
    [failed.id, failed.id],
  );
  t.deepEqual(
    runs.map((r) => (r.env as Record<string, string>).BEACON_ATTEMPT),
    ['1', '2'],
  );
  const reaction = getJson(etcd, `${prefix}/v1/watcher/reactions/${failed.id}.remedy`)!;
  t.is(reaction.state, 'done');
  t.deepEqual(
    (reaction.attempts as { state: string; owner: string }[]).map((a) => [a.state, a.owner]),
    [
      ['interrupted', 'rerun-a'],
      ['ok', 'rerun-b'],
    ],
  );
});
