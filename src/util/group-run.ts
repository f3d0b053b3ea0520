// Run a program as the leader of its own process group, with a deadline: a timeout or an abort sends
// SIGTERM to the whole group, then SIGKILL after a grace period, so nothing it started outlives it by
// accident. Shared by exec hooks (src/watcher/hooks/exec.ts) and `beacon render`'s commands.
import { OUTPUT_CAP_BYTES, OutputCapture } from './output.js';

// After SIGTERM, the group has this long before SIGKILL.
const KILL_GRACE_MS = 1_000;
// A descendant may hold the output pipes open after the program exits (a daemon it started, or one that
// left its group before a kill): stop reading them after this long.
const STUCK_PIPE_GRACE_MS = 1_000;

/** What to run: the program, its arguments, extra environment (added to ours) and optional stdin. */
export interface GroupCommand {
  file: string;
  args: string[];
  env: Record<string, string | undefined>;
  /** Written to stdin; without it stdin is /dev/null. */
  input?: string;
}

/** How a run ended; `stopped` is set when the deadline or the abort signal ended it. */
export interface GroupRun {
  exitCode?: number;
  signal?: string;
  /** execa's one-line description when there is no exit code (e.g. the program could not start). */
  shortMessage?: string;
  stopped?: 'timeout' | 'aborted';
  /** stdout and stderr together, capped at OUTPUT_CAP_BYTES. */
  output: string;
  durationMs: number;
}

/** Run `cmd` in its own process group until it exits, `timeoutMs` passes or `signal` aborts; never throws for a failing program. */
export async function runInGroup(cmd: GroupCommand, timeoutMs: number, signal: AbortSignal): Promise<GroupRun> {
  const started = performance.now();
  // execa costs ~15 MiB of RSS: loaded on first use, so a process that never runs a command never pays it.
  const { execa } = await import('execa');
  const out = new OutputCapture(OUTPUT_CAP_BYTES);
  const sub = execa(cmd.file, cmd.args, {
    env: cmd.env,
    detached: true,
    buffer: false,
    ...(cmd.input !== undefined ? { input: cmd.input } : { stdin: 'ignore' as const }),
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
  });
  sub.stdout?.on('data', (c: Buffer) => out.write(c));
  sub.stderr?.on('data', (c: Buffer) => out.write(c));
  let unstick: NodeJS.Timeout | undefined;
  sub.once('exit', () => {
    unstick = setTimeout(() => {
      sub.stdout?.destroy();
      sub.stderr?.destroy();
    }, STUCK_PIPE_GRACE_MS);
  });
  let stopped: 'timeout' | 'aborted' | undefined;
  let grace: NodeJS.Timeout | undefined;
  const killGroup = (sig: NodeJS.Signals) => {
    if (sub.pid === undefined) return;
    try {
      process.kill(-sub.pid, sig);
    } catch {
      // The group is already gone.
    }
  };
  const stop = (why: 'timeout' | 'aborted') => {
    if (stopped) return;
    stopped = why;
    killGroup('SIGTERM');
    grace = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = () => stop('aborted');
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await sub;
    const res: GroupRun = { output: out.text(), durationMs: Math.round(performance.now() - started) };
    if (stopped) {
      killGroup('SIGKILL'); // stragglers that ignored SIGTERM
      res.stopped = stopped;
      return res;
    }
    if (r.exitCode !== undefined) res.exitCode = r.exitCode;
    if (r.signal) res.signal = r.signal;
    if (r.exitCode === undefined) res.shortMessage = r.shortMessage;
    return res;
  } finally {
    clearTimeout(timer);
    clearTimeout(grace);
    clearTimeout(unstick);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Why a run that did not exit 0 failed: `timed out after N ms`, `interrupted`, `killed by SIG`, `exit code N`. */
export function failureOf(r: GroupRun, timeoutMs: number): string | undefined {
  if (r.stopped === 'timeout') return `timed out after ${timeoutMs} ms`;
  if (r.stopped === 'aborted') return 'interrupted';
  if (r.exitCode === 0) return undefined;
  if (r.signal) return `killed by ${r.signal}`;
  return r.exitCode === undefined ? r.shortMessage : `exit code ${r.exitCode}`;
}
