// exec hooks: run a program (no shell) with the event as JSON on stdin and BEACON_* in its environment.
// The program leads its own process group, so a timeout or a shutdown kills everything it started.
// Unlike a health check, a remedy may start something meant to outlive it: what it leaves behind after
// a normal exit is not killed, only no longer waited for.
import type { ExecHookConfig } from '../../config/watcher.js';
import { OUTPUT_CAP_BYTES, OutputCapture } from '../../checks/output.js';
import { beaconEnv, payload, type AttemptResult, type HookRunner } from './hook.js';

// After SIGTERM, the group has this long before SIGKILL.
const KILL_GRACE_MS = 1_000;
// A descendant may hold the output pipes open after the hook exits (or left its group before a kill):
// stop reading them after this long.
const STUCK_PIPE_GRACE_MS = 1_000;

/** Runs exec hooks. */
export const execHook: HookRunner<ExecHookConfig> = {
  async run(cfg, inv, signal) {
    const started = performance.now();
    // execa costs ~15 MiB of RSS: loaded on first use, so a watcher without exec hooks never pays it.
    const { execa } = await import('execa');
    const out = new OutputCapture(OUTPUT_CAP_BYTES);
    const sub = execa(cfg.command[0]!, cfg.command.slice(1), {
      input: payload(inv),
      env: { ...cfg.env, ...beaconEnv(inv) },
      detached: true,
      buffer: false,
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
    const timer = setTimeout(() => stop('timeout'), cfg.timeoutMs);
    const onAbort = () => stop('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await sub;
      const durationMs = Math.round(performance.now() - started);
      if (stopping) {
        killGroup('SIGKILL'); // stragglers that ignored SIGTERM
        return {
          state: stopping === 'timeout' ? 'timeout' : 'failed',
          durationMs,
          output: out.text(),
          error: stopping === 'timeout' ? `timed out after ${cfg.timeoutMs} ms` : 'interrupted',
        };
      }
      const res: AttemptResult = { state: r.exitCode === 0 ? 'ok' : 'failed', durationMs, output: out.text() };
      if (r.exitCode !== undefined) res.exitCode = r.exitCode;
      if (r.exitCode !== 0) res.error = r.signal ? `killed by ${r.signal}` : r.exitCode === undefined ? r.shortMessage : `exit code ${r.exitCode}`;
      return res;
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      clearTimeout(unstick);
      signal.removeEventListener('abort', onAbort);
    }
  },
};
