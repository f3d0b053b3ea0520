// The exec runner on its own: the event on stdin and in the environment, exit codes, capped output, and a
// timeout or an abort that kills the whole process tree.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { execHook } from '../../../src/watcher/hooks/exec.js';
import type { ExecHookConfig } from '../../../src/config/watcher.js';
import type { Invocation } from '../../../src/watcher/hooks/hook.js';
import { waitFor } from '../../helpers/etcd.js';
import { describeProcess } from '../../helpers/process.js';
import { HOOK_SCRIPT, alive, hookCalls, hookFile } from '../support.js';

const inv: Invocation = {
  hook: 'h',
  attempt: 2,
  watcherId: 'w1',
  event: {
    schema: 1,
    id: 'n1.00ab.NodeFailed',
    event: 'NodeFailed',
    node: 'n1',
    time: '2024-01-01T00:00:00.000Z',
    reason: 'LeaseExpired',
    detectedBy: 'watch',
    lease: '00ab',
    bootId: 'b1',
    address: '10.0.0.7',
    previous: 'up',
  },
};

function hook(file: string, mode: string, extra: Partial<ExecHookConfig> = {}): ExecHookConfig {
  return {
    name: 'h',
    kind: 'exec',
    command: [process.execPath, HOOK_SCRIPT],
    env: { HOOK_OUT: file, HOOK_MODE: mode },
    events: ['NodeFailed'],
    timeoutMs: 10_000,
    retries: 0,
    backoffMs: 0,
    concurrency: 1,
    alertOnly: false,
    ...extra,
  };
}

test('ok: the event as JSON on stdin and BEACON_* in the environment', async (t) => {
  const file = hookFile();
  const res = await execHook.run(hook(file, 'ok'), inv, new AbortController().signal);
  t.like(res, { state: 'ok', exitCode: 0 });
  const [call] = hookCalls(file);
  t.like(call!.env, {
    BEACON_EVENT: 'NodeFailed',
    BEACON_NODE: 'n1',
    BEACON_NODE_ADDRESS: '10.0.0.7',
    BEACON_EVENT_ID: 'n1.00ab.NodeFailed',
    BEACON_IDEMPOTENCY_KEY: 'n1.00ab.NodeFailed',
    BEACON_ATTEMPT: '2',
    BEACON_HOOK: 'h',
  });
  t.like(call!.stdin, { event: 'NodeFailed', node: 'n1', idempotencyKey: 'n1.00ab.NodeFailed', attempt: 2 });
});

test('failure: exit code and output, capped with a note', async (t) => {
  const res = await execHook.run(hook(hookFile(), 'fail'), inv, new AbortController().signal);
  t.is(res.state, 'failed');
  t.is(res.exitCode, 3);
  t.regex(res.output, /remedy failed for n1/);
  t.regex(res.output, /\.\.\. \(captured 4096 of \d+ bytes\)$/);
});

test('a missing program is a failed attempt, not an exception', async (t) => {
  const res = await execHook.run(hook(hookFile(), 'ok', { command: ['/nonexistent/remedy'] }), inv, new AbortController().signal);
  t.is(res.state, 'failed');
  t.regex(res.error ?? '', /ENOENT|nonexistent/);
});

test('timeout: the hook and the processes it started are killed', async (t) => {
  // A shell, not the Node recording hook: under a loaded suite Node can take longer to start than any
  // short timeout, and the hook would be killed before it had started anything to kill.
  const file = hookFile();
  const cfg = hook(file, 'sleep', { timeoutMs: 1_500, command: ['sh', '-c', 'sleep 60 & echo "$$ $!" > "$HOOK_OUT"; wait'] });
  const res = await execHook.run(cfg, inv, new AbortController().signal);
  t.is(res.state, 'timeout');
  const [shell, grandchild] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
  t.true(Number.isInteger(shell) && Number.isInteger(grandchild), 'the hook started its grandchild before the timeout');
  // Killed at the timeout; on a loaded machine the orphaned grandchild may be reaped seconds later.
  const tree = [
    { pid: shell!, command: /^sh\b/ },
    { pid: grandchild!, command: /^sleep\b/ },
  ];
  const gone = await waitFor(() => tree.every((p) => !alive(p.pid, p.command)), { timeoutMs: 15_000, what: 'process tree gone' }).then(
    () => true,
    () => false,
  );
  t.true(gone, `process tree still there after 15 s: ${tree.map((p) => describeProcess(p.pid)).join('; ')}`);
});

test('abort (shutdown, lost leadership): the tree is killed and the attempt ends at once', async (t) => {
  const file = hookFile();
  const ac = new AbortController();
  const run = execHook.run(hook(file, 'sleep'), inv, ac.signal);
  await waitFor(() => hookCalls(file)[0], { what: 'hook started' });
  ac.abort();
  const res = await run;
  t.is(res.error, 'interrupted');
  const [call] = hookCalls(file);
  await waitFor(() => !alive(call!.grandchild as number), { timeoutMs: 5_000, what: 'grandchild gone' });
});

test('a hook that leaves a background process holding its output ends when it exits; the process is left alone', async (t) => {
  const started = Date.now();
  const cfg = hook(hookFile(), 'ok', { command: ['sh', '-c', 'sleep 30 & echo "$!"; echo started'] });
  const res = await execHook.run(cfg, inv, new AbortController().signal);
  t.is(res.state, 'ok');
  t.true(Date.now() - started < 5_000, 'not held until the background process ends');
  const pid = Number(res.output.split('\n')[0]);
  t.true(alive(pid), 'a remedy may start something meant to outlive it');
  process.kill(pid, 'SIGKILL');
});
