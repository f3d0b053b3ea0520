// Resource pressure conditions, kubelet-style: MemoryPressure, DiskPressure (any watched mount over
// its threshold), PIDPressure. A condition turns True as soon as a sample crosses the threshold and
// back to False only after `transitionPeriodMs` without pressure (kubelet's pressure transition
// period), so a value hovering at the threshold does not flap. Sampling never overlaps itself.
import type { Logger } from 'pino';
import { sampleResources, type ResourceSample } from '../facts/resources.js';
import { sleep } from '../util/time.js';
import type { Condition, ConditionStatus } from './types.js';

/** Thresholds; every field has a default. */
export interface PressureThresholds {
  /** MemoryPressure when available memory is below this percentage of total (default 5). */
  memoryAvailablePercent: number;
  /** DiskPressure when a watched filesystem is more used than this percentage (default 90)... */
  diskUsedPercent: number;
  /** ...or than its own threshold here, by mount point. */
  diskMounts: Readonly<Record<string, number>>;
  /** Filesystem types never watched (pseudo and image filesystems). Read-only mounts are never watched either. */
  diskIgnoreTypes: readonly string[];
  /** PIDPressure when tasks exceed this percentage of the kernel's limit (default 90). */
  pidUsedPercent: number;
}

/** Defaults of PressureThresholds. */
export const DEFAULT_THRESHOLDS: PressureThresholds = {
  memoryAvailablePercent: 5,
  diskUsedPercent: 90,
  diskMounts: {},
  diskIgnoreTypes: ['tmpfs', 'devtmpfs', 'ramfs', 'squashfs', 'iso9660', 'overlay', 'erofs', 'nsfs', 'proc', 'sysfs', 'cgroup', 'cgroup2', 'fuse.lxcfs'],
  pidUsedPercent: 90,
};

/** Options of PressureMonitor. */
export interface PressureMonitorOptions {
  log: Logger;
  /** Called with all three conditions when any status or reason changes. */
  onConditions: (conditions: Condition[]) => void;
  thresholds?: Partial<PressureThresholds>;
  /** Between samples (default 10 s). */
  intervalMs?: number;
  /** Time without pressure before a True condition returns to False (default 5 min, as kubelet). */
  transitionPeriodMs?: number;
  /** A sample that takes longer is abandoned and the conditions become Unknown (default 30 s). */
  sampleTimeoutMs?: number;
  /** Replace the sampler (tests); default sampleResources. */
  sample?: () => Promise<ResourceSample>;
  now?: () => number;
}

const KINDS = {
  MemoryPressure: { ok: 'NodeHasSufficientMemory', bad: 'NodeHasInsufficientMemory', okMessage: 'node has sufficient memory available' },
  DiskPressure: { ok: 'NodeHasNoDiskPressure', bad: 'NodeHasDiskPressure', okMessage: 'node has no disk pressure' },
  PIDPressure: { ok: 'NodeHasSufficientPID', bad: 'NodeHasInsufficientPID', okMessage: 'node has sufficient PID available' },
} as const;
type PressureType = keyof typeof KINDS;
const TYPES = Object.keys(KINDS) as PressureType[];

/** What one sample says about each pressure: a problem message, or undefined for none. */
export function assessPressure(sample: ResourceSample, t: PressureThresholds): Record<PressureType, string | undefined> {
  const mem = sample.memory;
  const availPct = mem.totalBytes > 0 ? (mem.availableBytes / mem.totalBytes) * 100 : 100;
  const memory =
    availPct < t.memoryAvailablePercent
      ? `available memory ${availPct.toFixed(1)}% (${mib(mem.availableBytes)} of ${mib(mem.totalBytes)}) is below ${t.memoryAvailablePercent}%`
      : undefined;
  const ignore = new Set(t.diskIgnoreTypes);
  const full = sample.filesystems
    .filter((f) => !f.readOnly && !ignore.has(f.type) && f.sizeBytes > 0)
    .map((f) => ({ f, limit: t.diskMounts[f.mount] ?? t.diskUsedPercent }))
    .filter(({ f, limit }) => f.usedPercent > limit)
    .map(({ f, limit }) => `${f.mount} ${f.usedPercent.toFixed(1)}% used (threshold ${limit}%)`);
  const disk = full.length > 0 ? full.join('; ') : undefined;
  let pids: string | undefined;
  if (sample.pids && sample.pids.max > 0) {
    const pct = (sample.pids.current / sample.pids.max) * 100;
    if (pct > t.pidUsedPercent) pids = `${sample.pids.current} of ${sample.pids.max} PIDs in use (${pct.toFixed(1)}% > ${t.pidUsedPercent}%)`;
  }
  return { MemoryPressure: memory, DiskPressure: disk, PIDPressure: pids };
}

/** Samples resources on an interval and keeps the three pressure conditions. */
export class PressureMonitor {
  private readonly thresholds: PressureThresholds;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly state = new Map<PressureType, Condition>();
  /** When pressure was last seen, per type (for the transition period). */
  private readonly lastPressure = new Map<PressureType, number>();

  constructor(private readonly options: PressureMonitorOptions) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.now = options.now ?? Date.now;
    this.log = options.log.child({ component: 'pressure' });
    const at = new Date(this.now()).toISOString();
    for (const type of TYPES) this.state.set(type, { type, status: 'False', reason: KINDS[type].ok, message: KINDS[type].okMessage, lastTransitionTime: at });
  }

  /** The three conditions now. */
  conditions(): Condition[] {
    return TYPES.map((t) => ({ ...this.state.get(t)! }));
  }

  /** Apply one sample (or a sampling failure); calls onConditions if a status or reason changed. */
  evaluate(sample: ResourceSample | Error): void {
    const now = this.now();
    let changed = false;
    const set = (type: PressureType, status: ConditionStatus, reason: string, message: string) => {
      const cur = this.state.get(type)!;
      if (cur.status === status && cur.reason === reason) return;
      this.state.set(type, { type, status, reason, message, lastTransitionTime: new Date(now).toISOString() });
      this.log[status === 'False' ? 'info' : 'warn']({ condition: type, status, reason, detail: message }, 'condition changed');
      changed = true;
    };
    if (sample instanceof Error) {
      for (const type of TYPES) set(type, 'Unknown', 'ResourceSampleFailed', `cannot sample resources: ${sample.message}`);
    } else {
      const found = assessPressure(sample, this.thresholds);
      for (const type of TYPES) {
        const problem = found[type];
        if (problem !== undefined) {
          this.lastPressure.set(type, now);
          set(type, 'True', KINDS[type].bad, problem);
        } else {
          const cur = this.state.get(type)!;
          const since = this.lastPressure.get(type);
          const holding = cur.status === 'True' && since !== undefined && now - since < (this.options.transitionPeriodMs ?? 300_000);
          if (!holding) set(type, 'False', KINDS[type].ok, KINDS[type].okMessage);
        }
      }
    }
    if (changed) this.options.onConditions(this.conditions());
  }

  /** Sample every interval until `signal` aborts (the first sample at once). */
  async run(signal: AbortSignal): Promise<void> {
    const sample = this.options.sample ?? sampleResources;
    const timeoutMs = this.options.sampleTimeoutMs ?? 30_000;
    // A sample that outlives its timeout (df on a hung mount) is waited for again, never started twice.
    let inflight: Promise<ResourceSample | Error> | undefined;
    while (!signal.aborted) {
      const started = this.now();
      const p = (inflight ??= sample().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const result = await Promise.race([
        p.then((r) => {
          inflight = undefined;
          return r;
        }),
        new Promise<Error>((resolve) => {
          timer = setTimeout(() => resolve(new Error(`sampling took longer than ${timeoutMs} ms`)), timeoutMs);
          onAbort = () => resolve(new Error('aborted'));
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort!);
      if (signal.aborted) break;
      if (result instanceof Error) this.log.warn({ err: result }, 'resource sample failed');
      this.evaluate(result);
      await sleep(Math.max(0, started + (this.options.intervalMs ?? 10_000) - this.now()), signal);
    }
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MiB`;
}
