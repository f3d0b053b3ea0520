// Fault: the leading watcher is SIGKILLed while its remedy hook is in the middle of its work (the hook
// waits for the test to release it). The standby takes over and resumes the reaction. What the watcher
// promises (docs/watcher.md, "What is exactly-once and what is not"): the event and the decision to
// react are recorded once; the interrupted hook runs again (attempt 2, same idempotency key), so the
// *runs* are at least once and the *effect* of an idempotent hook is exactly once. Both are counted.
import test from 'ava';
import { ELECTION_TTL_S, Rig, etcdctlAsync, waitLeading } from './harness.js';
import { waitFor } from '../helpers/etcd.js';

test('leading watcher SIGKILLed mid-reaction: the standby finishes it, the effect happens once', async (t) => {
  const rig = await Rig.start(t, { gate: true });
  // The interrupted hook outlives its watcher (it leads its own process group): release it at the end.
  t.teardown(() => rig.release());
  const wb = rig.watchers[1];

  const faultAt = Date.now();
  rig.killAgent('n3');
  const failed = await rig.waitEvent('NodeFailed', 'n3', 15_000);
  t.is(failed.watcher, 'w-a');
  const runs = (attempt: string) => rig.hookLines().filter((l) => l[0] === 'run' && l[4] === attempt);
  await waitFor(() => runs('1').length === 1, { timeoutMs: 15_000, what: 'the hook to start on w-a' });
  const killedAt = Date.now();
  rig.killWatcher('w-a');
  const from = wb!.proc.lines.length;
  const lead = await waitLeading(wb!.proc, 20_000, from);
  const takeoverMs = Date.parse(lead.time as string) - killedAt;
  t.is(lead.resumed, 1, 'the standby resumed the running reaction');
  await waitFor(() => runs('2').length === 1, { timeoutMs: 15_000, what: 'the hook to run again on w-b' });
  rig.release();
  const outcome = await waitFor(() => wb!.proc.lines.find((l) => l.msg === 'hook outcome' && l.id === failed.id), {
    timeoutMs: 15_000,
    what: 'the outcome on w-b',
  });
  t.like(outcome, { outcome: { state: 'ok' } });

  const reaction = JSON.parse(
    await etcdctlAsync(rig.etcd.endpoints, ['get', `/faults/v1/watcher/reactions/${failed.id as string}.remedy`, '--print-value-only']),
  ) as { state: string; attempts: { state: string; owner: string }[] };
  t.is(reaction.state, 'done');
  t.deepEqual(
    reaction.attempts.map((a) => [a.state, a.owner]),
    [
      ['interrupted', 'w-a'],
      ['ok', 'w-b'],
    ],
  );
  const s = await rig.check({
    fault: 'leading watcher SIGKILL mid-hook',
    faultAt,
    answeredAt: faultAt,
    extra: { takeoverMs, takeoverBoundMs: ELECTION_TTL_S * 1000 + 500, reactionAttempts: reaction.attempts.map((a) => a.state) },
  });
  t.is(s.hookRuns, 2, 'the interrupted run and the resumed one (at-least-once runs, documented)');
  t.is(s.hookEffects, 1);
  t.true(takeoverMs <= ELECTION_TTL_S * 1000 + 2_000, `takeover after ${takeoverMs} ms`);
});
