// The agent's `capacity` section: how often it samples the use of services that declare `unit:` or
// `cgroup:` and over what window it averages (docs/capacity.md). Sampling is a few small file reads
// per service; the window also bounds how often a moving figure can be republished.
import { Fields } from '../util/fields.js';
import type { ParseContext } from './sections.js';

/** Sampling settings of resource use. */
export interface CapacityConfig {
  /** Between two samples (default 10 s). */
  intervalMs: number;
  /** Figures are averages over this long (default 5 min), and a moved figure is republished at most once per window. */
  windowMs: number;
}

export const DEFAULT_CAPACITY: CapacityConfig = { intervalMs: 10_000, windowMs: 300_000 };

/** The `capacity` section; defaults when absent. */
export function parseCapacity(raw: unknown, ctx: ParseContext): CapacityConfig {
  const f = new Fields('capacity', raw, ctx.problems);
  const intervalMs = f.duration('interval', { min: 1_000, max: 3_600_000, why: 'each sample reads a few kernel files per service' }) ?? DEFAULT_CAPACITY.intervalMs;
  const windowMs = f.duration('window', { min: 2_000, max: 86_400_000 }) ?? DEFAULT_CAPACITY.windowMs;
  f.done();
  if (!f.bad('interval') && !f.bad('window') && windowMs < 2 * intervalMs) {
    f.fail('window', `must be at least twice capacity.interval (an average needs two samples): window=${windowMs}ms interval=${intervalMs}ms`, f.get('window') ?? `${windowMs}ms`);
  }
  return { intervalMs, windowMs };
}
