// The remedy controller's brakes with real agents: a mass failure (60 % of nodes at once) raises one
// PartitionSuspected and suppresses remedies while alert-only hooks still run; a small one (10 %) runs
// the remedies, no faster than the rate limit; a flapping node's second failure is within the cooldown.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import type { BeaconProcess } from '../helpers/process.js';
import {
  hookCalls,
  hookFile,
  nodeEvents,
  outcomes,
  recordingHook,
  startAgent,
  startAgents,
  startWatcher,
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

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

async function joinedAll(watcher: BeaconProcess, nodes: string[]): Promise<void> {
  await waitLeading(watcher, 30_000);
  await waitFor(() => nodes.every((n) => nodeEvents(watcher, 'NodeJoined', n).length === 1), {
    timeoutMs: 20_000,
    what: 'every node joined',
  });
}

test('60 % of nodes killed at once: one PartitionSuspected, remedies suppressed, alert-only hooks run', async (t) => {
  const prefix = '/t-mass';
  const nodes = names('m', 5);
  const remedy = hookFile();
  const alert = hookFile();
  const agents = await startAgents(t, etcd.endpoints, prefix, nodes);
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-mass',
    // The hold outlasts the spread of expiries of nodes killed together ([2T/3, T] + 0.5 s).
    watcher: { massFailure: { share: 0.55, window: '1m', minNodes: 3, hold: '2500ms' } },
    hooks: [
      recordingHook(remedy),
      recordingHook(alert, { name: 'page', alertOnly: true, events: ['NodeFailed', 'PartitionSuspected'] }),
    ],
  });
  await joinedAll(watcher, nodes);

  const killed = nodes.slice(0, 3);
  await Promise.all(agents.slice(0, 3).map((a) => a.stop('SIGKILL')));
  for (const n of killed) await waitEvent(watcher, 'NodeFailed', n, 10_000);
  const partition = await waitFor(() => nodeEvents(watcher, 'PartitionSuspected')[0], { what: 'PartitionSuspected' });
  t.like(partition, { node: '*', failed: 3, known: 5, nodes: killed, reason: 'MassFailure' });

  const suppressed = await waitFor(() => (outcomes(watcher, 'remedy').length === 3 ? outcomes(watcher, 'remedy') : undefined), {
    timeoutMs: 10_000,
    what: 'three remedy outcomes',
  });
  for (const o of suppressed) t.like(o, { outcome: { state: 'suppressed', why: 'mass-failure' } });
  t.deepEqual(suppressed.map((o) => o.node).sort(), killed);
  t.deepEqual(hookCalls(remedy), []);

  await waitFor(() => outcomes(watcher, 'page').length === 4, { timeoutMs: 10_000, what: 'four alert outcomes' });
  const pages = hookCalls(alert).map((c) => `${(c.env as Record<string, string>).BEACON_EVENT} ${(c.env as Record<string, string>).BEACON_NODE}`);
  t.deepEqual(pages.sort(), ['NodeFailed m1', 'NodeFailed m2', 'NodeFailed m3', 'PartitionSuspected *']);
  t.is(nodeEvents(watcher, 'PartitionSuspected').length, 1);
});

test('10 % of nodes killed: remedies run, no faster than the rate limit', async (t) => {
  const prefix = '/t-few';
  const nodes = names('f', 20);
  const remedy = hookFile();
  const agents = await startAgents(t, etcd.endpoints, prefix, nodes);
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-few',
    watcher: { rateLimit: { every: '3s', burst: 1 }, massFailure: { hold: '2s' } },
    hooks: [recordingHook(remedy)],
  });
  await joinedAll(watcher, nodes);

  await Promise.all(agents.slice(0, 2).map((a) => a.stop('SIGKILL')));
  await waitFor(() => outcomes(watcher, 'remedy').length === 2, { timeoutMs: 20_000, what: 'two remedy outcomes' });
  for (const o of outcomes(watcher, 'remedy')) t.like(o, { outcome: { state: 'ok' } });
  const calls = hookCalls(remedy);
  t.deepEqual(calls.map((c) => (c.env as Record<string, string>).BEACON_NODE).sort(), ['f1', 'f2']);
  // Admissions are a token (3 s) apart; without the limit both would start within the failures'
  // spread (≤ T/3 + 0.5 s) after the same hold. Measured where the watcher starts them, not where the
  // hook process (whose start-up time varies) records itself.
  const starts = watcher.lines.filter((l) => l.msg === 'hook started').map((l) => Date.parse(l.time as string));
  t.is(starts.length, 2);
  const gap = Math.abs(starts[1]! - starts[0]!);
  t.true(gap >= 2_500, `second remedy started ${gap} ms after the first (one token every 3 s)`);
  t.deepEqual(nodeEvents(watcher, 'PartitionSuspected'), []);
});

test('a node failing again within the cooldown: the remedy is suppressed the second time', async (t) => {
  const prefix = '/t-cooldown';
  const remedy = hookFile();
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-cooldown',
    watcher: { cooldown: '10m', massFailure: { hold: '0s' } },
    hooks: [recordingHook(remedy)],
  });
  await waitLeading(watcher);
  const first = await startAgent(t, etcd.endpoints, prefix, 'c1');
  await waitEvent(watcher, 'NodeJoined', 'c1');
  await first.stop('SIGKILL');
  await waitFor(() => outcomes(watcher, 'remedy').length === 1, { timeoutMs: 10_000, what: 'first remedy' });

  const second = await startAgent(t, etcd.endpoints, prefix, 'c1');
  const recovered = await waitEvent(watcher, 'NodeRecovered', 'c1');
  t.true((recovered.downtimeMs as number) > 0);
  await second.stop('SIGKILL');
  await waitFor(() => outcomes(watcher, 'remedy').length === 2, { timeoutMs: 10_000, what: 'second remedy outcome' });
  t.is(nodeEvents(watcher, 'NodeFailed', 'c1').length, 2);
  t.like(outcomes(watcher, 'remedy')[1], { outcome: { state: 'suppressed', why: 'cooldown' } });
  t.is(hookCalls(remedy).length, 1);
});
