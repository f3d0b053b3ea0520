// The exec probe: run a command, map its exit code Consul's way (0 passing, 1 warning, else critical).
// The command runs in its own process group so that a timeout (or shutdown) kills the whole tree with
// SIGKILL — a script that ignores SIGTERM and forks must not outlive its check. Output (stdout and
// stderr interleaved) is read as it arrives and only the first 4 KiB are kept.
import { formatDuration } from '../util/duration.js';
import { OUTPUT_CAP_BYTES, OutputCapture } from '../util/output.js';
import { timedOut, type CheckResult, type ExecCheckSpec, type Probe } from './types.js';

// After a kill, how long the output pipes may stay open before we stop reading them.
const STUCK_PIPE_GRACE_MS = 2_000;

/** Map an exit code to a check status: 0 passing, 1 warning, anything else critical. */
export function exitCodeToHealth(code: number): CheckResult['status'] {
  return code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical';
}

/** Run the check's command once. */
export const execProbe: Probe<ExecCheckSpec> = async (spec, signal) => {
  const [file, ...args] = spec.argv;
  // execa costs ~15 MiB of RSS: loaded on first use, so an agent without such checks never pays it.
  const { execa } = await import('execa');
  if (signal.aborted) return { status: 'critical', output: 'cancelled before start' };
  const capture = new OutputCapture(OUTPUT_CAP_BYTES);
  const sub = execa(file!, args, {
    detached: true, // own process group: kill(-pgid) reaches every descendant that stayed in it
    buffer: false,
    all: true,
    stdin: 'ignore',
    reject: false,
    stripFinalNewline: false,
    env: { BEACON_CHECK_ID: spec.id, BEACON_SERVICE: spec.service },
  });
  const pgid = sub.pid;
  let killedByUs = false;
  const killGroup = () => {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, 'SIGKILL');
      killedByUs = true;
    } catch {
      // ESRCH: the group is already empty.
    }
  };
  let unstick: NodeJS.Timeout | undefined;
  const onAbort = () => {
    killGroup();
    // A descendant that left the group (setsid) may still hold the output pipe open; do not wait on it.
    unstick = setTimeout(() => {
      sub.stdout?.destroy();
      sub.stderr?.destroy();
      sub.all?.destroy();
    }, STUCK_PIPE_GRACE_MS);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  // Once the command itself exits, whatever it left behind in its group goes too: a check must not
  // leave processes running, and a leftover holding the output pipe would stall the result.
  sub.once('exit', () => {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: nothing left.
    }
  });
  sub.all?.on('data', (chunk: Buffer) => capture.write(chunk));
  try {
    const r = await sub;
    const output = capture.text().trimEnd();
    if (timedOut(signal)) {
      return { status: 'critical', output: joinOutput(`Timed out after ${formatDuration(spec.timeoutMs)}; process group killed`, output) };
    }
    if (signal.aborted) return { status: 'critical', output: joinOutput('cancelled; process group killed', output) };
    if (r.exitCode === undefined) {
      if (r.signal) {
        return { status: 'critical', output: joinOutput(`killed by ${r.signal}${killedByUs ? ' (by beacon)' : ''}`, output) };
      }
      // Spawn failure (ENOENT, EACCES): execa's short message names the command and the cause.
      const cause = r.cause instanceof Error ? r.cause.message : r.shortMessage;
      return { status: 'critical', output: `failed to run ${file}: ${cause}` };
    }
    return { status: exitCodeToHealth(r.exitCode), output: output === '' ? `exit status ${r.exitCode}` : output };
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearTimeout(unstick);
  }
};

function joinOutput(head: string, output: string): string {
  return output === '' ? head : `${head}\n${output}`;
}
