// Averages over a sliding window of readings: CPU as the counter's growth over the window's time
// (cores), memory as the mean of the readings. A counter that goes backwards (the group was removed and
// made again, a unit restarted) starts the window over rather than average across two lives.
import type { UsageFigures, UsageReading } from './types.js';

interface Point extends UsageReading {
  t: number;
}

/** Share of the window a span must cover before figures are given: sampling jitter must not hide them. */
const FULL_SHARE = 0.9;

/** Readings of one source over the last `windowMs`. */
export class UsageWindow {
  private points: Point[] = [];

  constructor(private readonly windowMs: number) {}

  /** Add a reading taken at `t` (ms). */
  add(t: number, r: UsageReading): void {
    const last = this.points[this.points.length - 1];
    if (last && (r.cpuNs < last.cpuNs || t <= last.t)) this.points = [];
    this.points.push({ t, ...r });
    // Keep the newest point at or before the window's start, so a warm window spans all of it.
    while (this.points.length > 2 && this.points[1]!.t <= t - this.windowMs) this.points.shift();
  }

  /** Forget every reading (the source failed). */
  clear(): void {
    this.points = [];
  }

  /** Averages over the window, or undefined until the readings cover (most of) it. */
  figures(): UsageFigures | undefined {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last || last.t - first.t < this.windowMs * FULL_SHARE) return undefined;
    const cpu = (last.cpuNs - first.cpuNs) / ((last.t - first.t) * 1e6);
    const memoryBytes = this.points.reduce((s, p) => s + p.memoryBytes, 0) / this.points.length;
    return { cpu, memoryBytes };
  }
}
