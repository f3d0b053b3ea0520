// The vocabulary of resource use: what one reading of the kernel's accounting gives, and the reader of
// one kind of source (a cgroup path, a systemd unit) behind one interface (src/usage/readers.ts).
import type { UsageFigures, UsageSource } from '../types.js';
export type { UsageFigures };

/** One reading: CPU time consumed so far (a counter) and memory charged now. */
export interface UsageReading {
  /** Cumulative CPU time in nanoseconds since the group (or the boot) began. */
  cpuNs: number;
  memoryBytes: number;
}

/** Reads one kind of source; rejects with a UsageSourceError saying what is wrong with it. */
export type UsageReader<S extends UsageSource = UsageSource> = (source: S, opts: ReaderOptions) => Promise<UsageReading>;

/** Where the readers look (tests point them at a temp dir holding the real files' format). */
export interface ReaderOptions {
  /** Mount point of the cgroup filesystem(s), default /sys/fs/cgroup. */
  cgroupRoot: string;
  signal?: AbortSignal;
}

/** A source that cannot be read: the reason is for the operator (log field, usage record). */
export class UsageSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageSourceError';
  }
}
