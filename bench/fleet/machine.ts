// What a benchmark ran on, and small /proc readers shared by the fleet benchmark and bench/run-all.ts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** The machine and software versions a figure was measured with. */
export interface Machine {
  cpus: number;
  model: string;
  memGiB: number;
  os: string;
  node: string;
  etcd: string;
  /** 1/5/15-minute load averages when the benchmark started: other work on the machine skews figures. */
  loadavg: number[];
}

/** Describe this machine. */
export function machine(): Machine {
  let os = 'unknown';
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    // keep 'unknown'
  }
  let etcd = 'unknown';
  try {
    etcd = execFileSync('etcd', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.replace('etcd Version: ', '');
  } catch {
    // keep 'unknown'
  }
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim() ?? 'unknown',
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    os,
    node: process.version,
    etcd,
    loadavg: loadavg().map((x) => +x.toFixed(2)),
  };
}

/** One line for docs: "2 × AMD EPYC ..., 23.5 GiB, Debian 12, Node v20.20.2, etcd 3.4.23". */
export function machineLine(m: Machine): string {
  return `${m.cpus} × ${m.model}, ${m.memGiB} GiB, ${m.os}, Node ${m.node}, etcd ${m.etcd}`;
}

let clkTck: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times. */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/** Resident set size of a process, MiB. */
export function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kib / 1024;
}
