// Run `beacon` as a real process in tests and read its JSON log lines.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './etcd.js';

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The CLI entry point. */
export const BEACON_BIN = join(REPO_ROOT, 'bin/beacon.js');

/** Write a config file into a fresh temp dir; returns its path. */
export function writeConfig(text: string, name = 'config.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-cfg-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Run a short `beacon` command to completion. */
export function beacon(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BEACON_BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `beacon` without blocking the event loop: a test that serves HTTP or TCP to the agent from its own
 * process must keep answering while it polls (a blocked loop makes the agent's probes time out).
 */
export function beaconAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BEACON_BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running `beacon` command with its whole stdout and stderr kept as text (for human output). */
export function spawnBeacon(args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; stdout: string; stderr: string } {
  const proc = spawn(process.execPath, [BEACON_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const io = { stdout: '', stderr: '', proc };
  proc.stdout!.on('data', (d: Buffer) => (io.stdout += d.toString('utf8')));
  proc.stderr!.on('data', (d: Buffer) => (io.stderr += d.toString('utf8')));
  return io;
}

/** A long-running `beacon` process whose stdout JSON lines are collected. */
export class BeaconProcess {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  /** `wrap` runs it through another command that execs it, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, wrap: string[] = []) {
    const argv = [...wrap, process.execPath, BEACON_BIN, ...args];
    this.proc = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push({ raw: line });
        }
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((res) => this.proc.once('exit', (code) => res(code)));
  }

  /** The first log line matching `pred` after index `from`, waiting up to `timeoutMs`. */
  async waitLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000, from = 0): Promise<Record<string, unknown>> {
    return waitFor(() => this.lines.slice(from).find(pred), {
      timeoutMs,
      // Told at the timeout: what the process had printed by then, and whether it is still running.
      what: () =>
        `log line from beacon (${this.lines.length} stdout lines, the last: ${JSON.stringify(this.lines.slice(-3)).slice(0, 1000)}; ` +
        `exit code ${this.proc.exitCode ?? this.proc.signalCode ?? 'none: running'}; stderr: ${this.stderr.slice(-500)})`,
    });
  }

  /** Log lines with message `msg`. */
  withMsg(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** Send a signal. */
  kill(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }

  /** Stop (SIGKILL by default) and wait for exit. */
  async stop(sig: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
    return this.exited;
  }
}

/**
 * Whether a pid is gone, or a zombie: an orphan killed with its group is reparented to PID 1, and in a
 * container PID 1 may reap it late or never.
 */
export function processGone(pid: number, command?: RegExp): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    // A zombie still answers kill(0): it is dead, only not yet reaped by its new parent.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    // The suite starts tens of thousands of processes and pids wrap (pid_max is 32,768 here): a pid
    // that now runs another command is another process.
    return command !== undefined && !command.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '));
  } catch {
    return true;
  }
}

/** What a pid is now, for a failure message: state, parent and command line, or `gone`. */
export function describeProcess(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return `pid ${pid}: state ${state}, parent ${ppid}, ${JSON.stringify(cmd)}`;
  } catch {
    return `pid ${pid}: gone`;
  }
}
