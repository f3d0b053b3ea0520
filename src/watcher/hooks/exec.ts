// exec hooks: run a program (no shell) with the event as JSON on stdin and BEACON_* in its environment.
// The program leads its own process group, so a timeout or a shutdown kills everything it started.
// Unlike a health check, a remedy may start something meant to outlive it: what it leaves behind after
// a normal exit is not killed, only no longer waited for.
import type { ExecHookConfig } from '../../config/watcher.js';
import { failureOf, runInGroup } from '../../util/group-run.js';
import { beaconEnv, payload, type AttemptResult, type HookRunner } from './hook.js';

/** Runs exec hooks. */
export const execHook: HookRunner<ExecHookConfig> = {
  async run(cfg, inv, signal) {
    const r = await runInGroup(
      { file: cfg.command[0]!, args: cfg.command.slice(1), env: { ...cfg.env, ...beaconEnv(inv) }, input: payload(inv) },
      cfg.timeoutMs,
      signal,
    );
    const res: AttemptResult = {
      state: r.stopped === 'timeout' ? 'timeout' : !r.stopped && r.exitCode === 0 ? 'ok' : 'failed',
      durationMs: r.durationMs,
      output: r.output,
    };
    if (!r.stopped && r.exitCode !== undefined) res.exitCode = r.exitCode;
    const error = failureOf(r, cfg.timeoutMs);
    if (error !== undefined) res.error = error;
    return res;
  },
};
