// Run a check or reload command line through `sh -c`, with a deadline. The shell leads its own process group,
// so a timeout or a shutdown kills everything the command started (a reload script's children too).
import { OUTPUT_CAP_BYTES, OutputCapture } from '../checks/output.js';

// After SIGTERM, the group has this long before SIGKILL.
const KILL_GRACE_MS = 1_000;
// A daemon started by a command may hold the output pipes open: stop reading them this long after the shell exits.
const STUCK_PIPE_GRACE_MS = 1_000;

/** How one command ran: exit code 0 is `ok`; output is stdout and stderr together, capped at 4 KiB. */
export interface ShellResult {
  ok: boolean;
  exitCode?: number;
  /** Why it failed: `exit code N`, `killed by SIG`, `timed out after N ms`, `interrupted`. */
  error?: string;
  output: string;
  durationMs: number;
}

/** Quote `s` as one word for sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Run `command` with `sh -c` and extra `env`; never throws for a failing command. */
export async function runShell(command: string, env: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<ShellResult> {
  const started = performance.now();
  // execa is loaded on first use: a renderer without commands never pays for it.
  const { execa } = await import('execa');
  const out = new OutputCapture(OUTPUT_CAP_BYTES);
  const sub = execa('sh', ['-c', command], {
    env,
    detached: true,
    buffer: false,
    stdin: 'ignore',
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
  let stopping: 'timeout' | 'aborted' | undefined;
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
    if (stopping) return;
    stopping = why;
    killGroup('SIGTERM');
    grace = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = () => stop('aborted');
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await sub;
    const durationMs = Math.round(performance.now() - started);
    if (stopping) {
      killGroup('SIGKILL');
      return { ok: false, error: stopping === 'timeout' ? `timed out after ${timeoutMs} ms` : 'interrupted', output: out.text(), durationMs };
    }
    const res: ShellResult = { ok: r.exitCode === 0, output: out.text(), durationMs };
    if (r.exitCode !== undefined) res.exitCode = r.exitCode;
    if (r.exitCode !== 0) res.error = r.signal ? `killed by ${r.signal}` : r.exitCode === undefined ? r.shortMessage : `exit code ${r.exitCode}`;
    return res;
  } finally {
    clearTimeout(timer);
    clearTimeout(grace);
    clearTimeout(unstick);
    signal.removeEventListener('abort', onAbort);
  }
}
