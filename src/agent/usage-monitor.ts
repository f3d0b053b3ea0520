// Samples the use of every service that declares a `unit:` or `cgroup:` and of the node itself, every
// `capacity.interval`; keeps window averages; and holds the usage record as last published (record.ts
// decides when it changes). A source that cannot be read is an error value in the record and one log
// line when it starts and stops failing: the agent keeps running and keeps measuring the others.
import type { Logger } from 'pino';
import type { CapacityConfig } from '../config/capacity.js';
import type { ServiceConfig, UsageSource } from '../config/types.js';
import { escapeText } from '../util/text.js';
import { sleep } from '../util/time.js';
import { readNode } from '../usage/node.js';
import { readSource, sourceName } from '../usage/readers.js';
import { rounded, shouldPublish, type NodeUsageRecord, type ServiceUsage } from '../usage/record.js';
import type { UsageFigures, UsageReading } from '../usage/types.js';
import { UsageWindow } from '../usage/window.js';

/** Where the monitor reads (tests point these at fixtures). */
export interface MonitorPaths {
  cgroupRoot?: string;
  proc?: string;
}

/** Figures as measured now (not banded), for /metrics. */
export interface LiveUsage {
  capacity: UsageFigures;
  reserved: UsageFigures;
  used: UsageFigures | null;
  services: { name: string; reserved: ServiceUsage['reserved']; used: UsageFigures | null; cpuSecondsTotal: number | null; memoryBytesNow: number | null }[];
}

interface Tracked {
  resources: ServiceConfig['resources'];
  source: UsageSource | undefined;
  window: UsageWindow;
  last: UsageReading | undefined;
  error: string | null;
}

/** Whether a service takes part in capacity accounting. */
export function isTracked(svc: ServiceConfig): boolean {
  return svc.resources !== undefined || svc.usage !== undefined;
}

export class UsageMonitor {
  private tracked = new Map<string, Tracked>();
  private readonly nodeWindow: UsageWindow;
  private published: NodeUsageRecord | undefined;
  private publishedAt = -Infinity;
  private readonly log: Logger;

  constructor(
    private readonly opts: {
      node: string;
      capacity: UsageFigures;
      config: CapacityConfig;
      log: Logger;
      /** Called after the published record changed. */
      onPublish: () => void;
      paths?: MonitorPaths;
      now?: () => number;
    },
    services: readonly ServiceConfig[],
  ) {
    this.log = opts.log.child({ component: 'usage' });
    this.nodeWindow = new UsageWindow(opts.config.windowMs);
    this.setServices(services, false);
  }

  /** Whether any service is tracked: without one, nothing is sampled or published. */
  get active(): boolean {
    return this.tracked.size > 0;
  }

  /** The record as last published; undefined before the first sample or when inactive. */
  record(): NodeUsageRecord | undefined {
    return this.active ? this.published : undefined;
  }

  /** Apply a reloaded service list; a service whose source changed starts a new window. */
  setServices(services: readonly ServiceConfig[], publish = true): void {
    const next = new Map<string, Tracked>();
    for (const svc of services) {
      if (!isTracked(svc)) continue;
      const cur = this.tracked.get(svc.name);
      const same = cur && JSON.stringify(cur.source) === JSON.stringify(svc.usage);
      next.set(svc.name, same ? { ...cur, resources: svc.resources } : { resources: svc.resources, source: svc.usage, window: new UsageWindow(this.opts.config.windowMs), last: undefined, error: null });
    }
    this.tracked = next;
    if (publish) this.maybePublish();
  }

  /** Sample every interval until `signal` aborts (the first one after an interval when `sampled` says one was just taken). */
  async run(signal: AbortSignal, { sampled = false } = {}): Promise<void> {
    if (sampled) await sleep(this.opts.config.intervalMs, signal);
    while (!signal.aborted) {
      if (this.active) await this.sample(signal);
      await sleep(this.opts.config.intervalMs, signal);
    }
  }

  /** Take one sample of the node and every tracked source, then publish if record.ts says so. */
  async sample(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    const paths = this.opts.paths ?? {};
    const cgroupRoot = paths.cgroupRoot ?? '/sys/fs/cgroup';
    try {
      this.nodeWindow.add(now, await readNode(paths.proc));
    } catch (err) {
      this.log.warn({ err }, 'node use not readable');
    }
    await Promise.all(
      [...this.tracked].map(async ([name, t]) => {
        if (!t.source) return;
        try {
          const r = await readSource(t.source, { cgroupRoot, ...(signal ? { signal } : {}) });
          t.window.add(now, r);
          t.last = r;
          if (t.error !== null) this.log.info({ service: name, source: sourceName(t.source) }, 'usage source readable again');
          t.error = null;
        } catch (err) {
          if (signal?.aborted) return;
          // Published in the record (a `line`): escaped and capped like any text from outside.
          const message = escapeText(err instanceof Error ? err.message : String(err), 500);
          if (t.error !== message) this.log.warn({ service: name, source: sourceName(t.source), problem: message }, 'usage source not readable');
          t.error = message;
          t.window.clear();
          t.last = undefined;
        }
      }),
    );
    this.maybePublish();
  }

  /** Figures as measured now, for /metrics. */
  live(): LiveUsage {
    const services = [...this.tracked].map(([name, t]) => ({
      name,
      reserved: reservedOf(t),
      used: t.error === null ? (t.window.figures() ?? null) : null,
      cpuSecondsTotal: t.last ? t.last.cpuNs / 1e9 : null,
      memoryBytesNow: t.last?.memoryBytes ?? null,
    }));
    return {
      capacity: this.opts.capacity,
      reserved: {
        cpu: services.reduce((s, x) => s + (x.reserved.cpu ?? 0), 0),
        memoryBytes: services.reduce((s, x) => s + (x.reserved.memoryBytes ?? 0), 0),
      },
      used: this.nodeWindow.figures() ?? null,
      services,
    };
  }

  private maybePublish(): void {
    if (!this.active) return;
    const now = this.now();
    const next: Omit<NodeUsageRecord, 'at'> = {
      schema: 1,
      node: this.opts.node,
      windowSeconds: Math.round(this.opts.config.windowMs / 1000),
      capacity: this.opts.capacity,
      used: rounded(this.nodeWindow.figures() ?? null),
      services: Object.fromEntries(
        [...this.tracked].map(([name, t]): [string, ServiceUsage] => [
          name,
          {
            reserved: reservedOf(t),
            source: t.source ? sourceName(t.source) : null,
            used: t.error === null ? rounded(t.window.figures() ?? null) : null,
            error: t.error,
          },
        ]),
      ),
    };
    if (!shouldPublish(this.published, next, now - this.publishedAt, this.opts.config.windowMs)) return;
    this.published = { ...next, at: new Date(now).toISOString() };
    this.publishedAt = now;
    this.log.debug({ used: next.used }, 'usage published');
    this.opts.onPublish();
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }
}

function reservedOf(t: Tracked): ServiceUsage['reserved'] {
  return { cpu: t.resources?.cpu ?? null, memoryBytes: t.resources?.memoryBytes ?? null };
}
