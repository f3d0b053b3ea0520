// One `beacon` child process of the demo (an agent or the watcher): run as the demo's own executable, its
// log in a file under the demo's temp dir, in its own process group so that a Ctrl-C in the terminal
// reaches only the demo, which then stops its children in order (watcher, agents, then etcd).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** How to run beacon itself: the program and the arguments before the subcommand. */
export interface BeaconCommand {
  file: string;
  args: string[];
}

/** How a child ended. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// After SIGTERM a child has this long to leave gracefully (an agent revokes its lease) before SIGKILL.
const STOP_GRACE_MS = 5_000;

/** A running `beacon` subcommand. */
export class DemoChild {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  private readonly proc: ChildProcess;
  private exit: ChildExit | undefined;
  private ended = false;

  constructor(
    readonly name: string,
    command: BeaconCommand,
    args: string[],
    readonly logPath: string,
    env: NodeJS.ProcessEnv,
  ) {
    const fd = openSync(logPath, 'a');
    try {
      this.proc = spawn(command.file, [...command.args, ...args], { stdio: ['ignore', fd, fd], env, detached: true });
    } finally {
      // The child holds its own copy.
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => resolve((this.exit = { code, signal })));
      // Spawning failed (no pid): reported as an exit, like any other death.
      this.proc.once('error', () => resolve((this.exit = { code: null, signal: null })));
    });
    this.pid = this.proc.pid ?? -1;
  }

  /** Whether it still runs. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Whether kill() or stop() was called: its exit is then no surprise. */
  get endRequested(): boolean {
    return this.ended;
  }

  /** SIGKILL, no goodbye: the failure the demo shows. Resolves once it is dead. */
  async kill(): Promise<ChildExit> {
    this.ended = true;
    this.signalGroup('SIGKILL');
    return this.exited;
  }

  /** SIGTERM to its group, SIGKILL after a grace period; resolves once it is dead. */
  async stop(graceMs = STOP_GRACE_MS): Promise<ChildExit> {
    this.ended = true;
    if (!this.running) return this.exited;
    this.signalGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([this.exited, late])) === 'late') this.signalGroup('SIGKILL');
    clearTimeout(timer);
    return this.exited;
  }

  /** The end of its log (to say why it died). */
  logTail(lines = 5): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  // The whole group: whatever it started in its group goes with it.
  private signalGroup(sig: NodeJS.Signals): void {
    if (!this.running || this.pid <= 0) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      // Gone between the check and the kill.
    }
  }
}
