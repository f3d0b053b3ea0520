// Resource usage for the pressure conditions (src/problems/pressure.ts): memory, filesystems, PIDs.
// systeminformation is loaded lazily (it costs ~20 ms and ~9 MiB at import; the agent's start path
// does not need it). PIDs come from /proc directly: systeminformation's processes() walks every
// process for one number the kernel keeps in /proc/loadavg.
import { readFile } from 'node:fs/promises';

/** Usage of one mounted filesystem. */
export interface FilesystemUsage {
  mount: string;
  device: string;
  type: string;
  sizeBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** used / (used + available) × 100, as df computes it (the root reserve counts as unavailable). */
  usedPercent: number;
  readOnly: boolean;
}

/** One sample of the node's resources. */
export interface ResourceSample {
  memory: { totalBytes: number; availableBytes: number };
  filesystems: FilesystemUsage[];
  /** Tasks (threads) now and the most the kernel allows; undefined when /proc does not tell. */
  pids: { current: number; max: number } | undefined;
}

/** Sample memory, filesystems and PIDs once. */
export async function sampleResources(): Promise<ResourceSample> {
  const si = await import('systeminformation');
  const [mem, fs, pids] = await Promise.all([si.mem(), si.fsSize(), samplePids()]);
  return {
    memory: { totalBytes: mem.total, availableBytes: mem.available },
    filesystems: fs.map((f) => ({
      mount: f.mount,
      device: f.fs,
      type: f.type,
      sizeBytes: f.size,
      usedBytes: f.used,
      availableBytes: f.available,
      usedPercent: Number.isFinite(f.use) ? f.use : 0,
      readOnly: f.rw === false,
    })),
    pids,
  };
}

/** Current tasks from /proc/loadavg ("1.00 0.50 0.25 2/345 6789": 345) against min(pid_max, threads-max). */
export async function samplePids(proc = '/proc'): Promise<{ current: number; max: number } | undefined> {
  try {
    const [loadavg, pidMax, threadsMax] = await Promise.all([
      readFile(`${proc}/loadavg`, 'utf8'),
      readFile(`${proc}/sys/kernel/pid_max`, 'utf8'),
      readFile(`${proc}/sys/kernel/threads-max`, 'utf8').catch(() => ''),
    ]);
    const current = Number(/^\S+ \S+ \S+ \d+\/(\d+)/.exec(loadavg)?.[1]);
    const limits = [Number(pidMax.trim()), Number(threadsMax.trim())].filter((n) => Number.isFinite(n) && n > 0);
    if (!Number.isFinite(current) || limits.length === 0) return undefined;
    return { current, max: Math.min(...limits) };
  } catch {
    return undefined;
  }
}
