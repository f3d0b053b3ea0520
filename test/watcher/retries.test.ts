// Hooks that fail or time out, inside a running watcher: retried with backoff, then recorded as failed
// (or timed out) with their output in the reaction and in the event; a flaky one succeeds on a retry.
import test from 'ava';
import { EtcdCluster, waitFor } from '../helpers/etcd.js';
import { alive, getJson, hookCalls, hookFile, outcomes, recordingHook, startAgent, startWatcher, waitEvent, waitLeading } from './support.js';

let etcd: EtcdCluster;
test.before(async () => {
  etcd = await EtcdCluster.start();
});
test.after.always(async () => {
  await etcd?.destroy();
});

test('failing and timing-out hooks are retried, then recorded as failed with their output', async (t) => {
  const prefix = '/t-retry';
  const [broken, slow, flaky] = [hookFile(), hookFile(), hookFile()];
  const agent = await startAgent(t, etcd.endpoints, prefix, 'n1');
  const watcher = startWatcher(t, {
    endpoints: etcd.endpoints,
    prefix,
    id: 'w-retry',
    watcher: { massFailure: { hold: '0s' } },
    hooks: [
      recordingHook(broken, { name: 'broken', retries: 2, backoff: '100ms' }, { HOOK_MODE: 'fail' }),
      recordingHook(slow, { name: 'slow', retries: 1, backoff: '100ms', timeout: '2s' }, { HOOK_MODE: 'sleep' }),
      recordingHook(flaky, { name: 'flaky', retries: 2, backoff: '100ms' }, { HOOK_MODE: 'flaky', HOOK_FAILS: '1' }),
    ],
  });
  await waitLeading(watcher);
  await waitEvent(watcher, 'NodeJoined', 'n1');
  await agent.stop('SIGKILL');
  const failed = await waitEvent(watcher, 'NodeFailed', 'n1', 10_000);
  await waitFor(() => outcomes(watcher).length === 3, { timeoutMs: 20_000, what: 'three hook outcomes' });

  // Failing: three attempts (1 + 2 retries), recorded failed with the exit code and the capped output.
  t.is(hookCalls(broken).length, 3);
  t.deepEqual(
    hookCalls(broken).map((c) => (c.env as Record<string, string>).BEACON_ATTEMPT),
    ['1', '2', '3'],
  );
  const brokenOutcome = outcomes(watcher, 'broken')[0]!.outcome as Record<string, unknown>;
  t.like(brokenOutcome, { state: 'failed', attempts: 3, exitCode: 3 });
  t.regex(brokenOutcome.output as string, /remedy failed for n1[\s\S]*\(captured 4096 of \d+ bytes\)/);
  const reaction = getJson(etcd, `${prefix}/v1/watcher/reactions/${failed.id}.broken`)!;
  t.is(reaction.state, 'failed');
  t.deepEqual(
    (reaction.attempts as { state: string; exitCode: number }[]).map((a) => [a.state, a.exitCode]),
    [
      ['failed', 3],
      ['failed', 3],
      ['failed', 3],
    ],
  );

  // Timing out: killed with everything it started, retried once, recorded as timed out.
  t.like(outcomes(watcher, 'slow')[0]!.outcome, { state: 'timeout', attempts: 2 });
  const slowCalls = hookCalls(slow);
  t.is(slowCalls.length, 2);
  await waitFor(() => slowCalls.every((c) => !alive(c.pid as number) && !alive(c.grandchild as number)), {
    timeoutMs: 5_000,
    what: 'timed-out hooks and their children gone',
  });

  // Flaky: fails once, then succeeds on the retry.
  t.like(outcomes(watcher, 'flaky')[0]!.outcome, { state: 'ok', attempts: 2 });
  t.is(hookCalls(flaky).length, 2);

  // Every outcome is copied into the event.
  const event = await waitFor(() => {
    const e = getJson(etcd, `${prefix}/v1/watcher/events/${failed.id}`);
    const hooks = e?.hooks as Record<string, { state: string }> | undefined;
    return hooks && Object.values(hooks).every((h) => h.state !== 'pending') ? hooks : undefined;
  });
  t.deepEqual(
    Object.fromEntries(Object.entries(event).map(([k, v]) => [k, v.state])),
    { broken: 'failed', slow: 'timeout', flaky: 'ok' },
  );
});
