// Coarse node utilization for `beacon nodes -o wide` (load, memory and root disk use), kept cheap for
// etcd. The agent writes only on change, and raw utilization changes every second: written as is,
// every node would write every sample. So the published values are coarse and sticky:
//   - memory and disk use are published in 10-point steps, and a new value is published only once
//     the raw value is more than a whole step away from the published one (hysteresis: a value
//     hovering at a step boundary never flaps);
//   - the 1-minute load is published to one decimal, and changes only when it moved by more than
//     max(0.5, cpus/4);
//   - and whatever moved, the record is rewritten at most once per `minIntervalMs` (default 5 min).
// A steady node therefore writes nothing; a busy one at most one small write per 5 minutes. The
// numbers are a rough picture with their sample time (`at`), not monitoring: use /metrics for that.
// Sources are syscalls, no child processes: os.loadavg(), os.totalmem()/os.freemem() (libuv reads
// MemAvailable) and statfs(2) of `/` (df's arithmetic: the root reserve counts as unavailable).
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import type { NodeUtilization } from '../types.js';

/** One raw sample. */
export interface UtilizationSample {
  load1: number;
  memoryUsedPercent: number;
  /** Undefined when `/` cannot be statfs'd. */
  diskUsedPercent: number | undefined;
}

/** Size in bytes of the filesystem at `path` (the root by default), or undefined when statfs fails. */
export async function diskBytes(path = '/'): Promise<number | undefined> {
  try {
    const s = await statfs(path);
    return s.blocks * s.bsize;
  } catch {
    return undefined;
  }
}

/** Sample load, memory and root disk use once (a few syscalls, no children). */
export async function sampleUtilization(root = '/'): Promise<UtilizationSample> {
  const total = os.totalmem();
  const memoryUsedPercent = total > 0 ? ((total - os.freemem()) / total) * 100 : 0;
  let diskUsedPercent: number | undefined;
  try {
    const s = await statfs(root);
    const used = s.blocks - s.bfree;
    diskUsedPercent = used + s.bavail > 0 ? (used / (used + s.bavail)) * 100 : 0;
  } catch {
    diskUsedPercent = undefined;
  }
  return { load1: os.loadavg()[0] ?? 0, memoryUsedPercent, diskUsedPercent };
}

/** Percentages are published in steps of this many points. */
export const PERCENT_STEP = 10;

/** Turns raw samples into the sticky, coarse values the agent publishes (see the file comment). */
export class UtilizationTracker {
  private published: NodeUtilization | undefined;
  private publishedAt = -Infinity;
  private readonly minIntervalMs: number;
  private readonly loadDelta: number;

  constructor(opts: { cpus: number; minIntervalMs?: number }) {
    this.minIntervalMs = opts.minIntervalMs ?? 300_000;
    this.loadDelta = Math.max(0.5, opts.cpus / 4);
  }

  /** The values to publish now, or undefined when the published ones still stand. */
  update(s: UtilizationSample, now: number): NodeUtilization | undefined {
    const cur = this.published;
    if (cur && now - this.publishedAt < this.minIntervalMs) return undefined;
    const moved =
      !cur ||
      Math.abs(s.load1 - cur.load1) > this.loadDelta ||
      Math.abs(s.memoryUsedPercent - cur.memoryUsedPercent) > PERCENT_STEP ||
      (s.diskUsedPercent === undefined) !== (cur.diskUsedPercent === null) ||
      (s.diskUsedPercent !== undefined && cur.diskUsedPercent !== null && Math.abs(s.diskUsedPercent - cur.diskUsedPercent) > PERCENT_STEP);
    if (!moved) return undefined;
    this.published = {
      load1: Math.round(s.load1 * 10) / 10,
      memoryUsedPercent: step(s.memoryUsedPercent),
      diskUsedPercent: s.diskUsedPercent === undefined ? null : step(s.diskUsedPercent),
      at: new Date(now).toISOString(),
    };
    this.publishedAt = now;
    return this.published;
  }
}

function step(pct: number): number {
  return Math.min(100, Math.max(0, Math.round(pct / PERCENT_STEP) * PERCENT_STEP));
}
