// Run a check or reload command line through `sh -c`, with a deadline. The shell leads its own process group,
// so a timeout or a shutdown kills everything the command started (a reload script's children too).
import { failureOf, runInGroup } from '../util/group-run.js';

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
  const r = await runInGroup({ file: 'sh', args: ['-c', command], env }, timeoutMs, signal);
  const res: ShellResult = { ok: !r.stopped && r.exitCode === 0, output: r.output, durationMs: r.durationMs };
  if (!r.stopped && r.exitCode !== undefined) res.exitCode = r.exitCode;
  const error = failureOf(r, timeoutMs);
  if (error !== undefined) res.error = error;
  return res;
}
