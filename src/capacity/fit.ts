// The three ways resources go wrong on a fleet (docs/capacity.md), decided from the usage records alone:
//   shortage  a service's reservation fits on no node's free capacity (its own node counted without it),
//             or a node whose reservations exceed its capacity;
//   waste     a service using less than `wasteBelow` of what it reserves, averaged over the window;
//   mismatch  a node whose free CPU and free memory (capacity − reservations, as shares of capacity)
//             differ by at least `mismatchGap`: the more-free one is stranded, nothing can use it
//             (not flagged on a node already short: fixing the shortage comes first).
// Free capacity is what schedulers count, capacity minus reservations; use decides only waste. Pure.
import { humanBytes, humanCpu } from '../util/quantity.js';
import type { ServiceUsage } from '../usage/record.js';
import type { UsageFigures } from '../usage/types.js';

export type Resource = 'cpu' | 'memory';
export type FlagKind = 'shortage' | 'waste' | 'mismatch';

/** One finding; `resource` is absent when it is about both. */
export interface Flag {
  kind: FlagKind;
  resource?: Resource;
  message: string;
}

export interface FitOptions {
  /** Waste below this share of the reservation (default 0.2). */
  wasteBelow: number;
  /** Mismatch when free shares differ by at least this much (default 0.5). */
  mismatchGap: number;
}

export const DEFAULT_FIT: FitOptions = { wasteBelow: 0.2, mismatchGap: 0.5 };

/** One registered node as read from etcd. */
export interface NodeInput {
  name: string;
  capacity: UsageFigures;
  /** The node's own use (usage record); null when not measured. */
  used: UsageFigures | null;
  windowSeconds: number | null;
  /** Services in its usage record; empty when it publishes none. */
  services: Record<string, ServiceUsage>;
}

export interface NodeFit {
  name: string;
  capacity: UsageFigures;
  reserved: UsageFigures;
  used: UsageFigures | null;
  /** capacity − reserved (negative when over-reserved). */
  free: UsageFigures;
  flags: Flag[];
}

export interface ServiceFit extends ServiceUsage {
  service: string;
  node: string;
  windowSeconds: number | null;
  flags: Flag[];
}

const RES: { r: Resource; key: keyof UsageFigures; show: (n: number) => string }[] = [
  { r: 'cpu', key: 'cpu', show: (n) => `${humanCpu(n)} cpu` },
  { r: 'memory', key: 'memoryBytes', show: (n) => `${humanBytes(n)} memory` },
];

function reservedOf(services: Record<string, ServiceUsage>): UsageFigures {
  let cpu = 0;
  let memoryBytes = 0;
  for (const s of Object.values(services)) {
    cpu += s.reserved.cpu ?? 0;
    memoryBytes += s.reserved.memoryBytes ?? 0;
  }
  return { cpu, memoryBytes };
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** Flag every node and service of a fleet. */
export function fit(inputs: readonly NodeInput[], opts: FitOptions = DEFAULT_FIT): { nodes: NodeFit[]; services: ServiceFit[] } {
  const nodes: NodeFit[] = inputs.map((n) => {
    const reserved = reservedOf(n.services);
    const free = { cpu: n.capacity.cpu - reserved.cpu, memoryBytes: n.capacity.memoryBytes - reserved.memoryBytes };
    const flags: Flag[] = [];
    for (const { r, key, show } of RES) {
      if (reserved[key] > n.capacity[key]) {
        flags.push({ kind: 'shortage', resource: r, message: `reservations ${show(reserved[key])} exceed capacity ${show(n.capacity[key])}` });
      }
    }
    // An over-reserved node has a shortage to fix first: the other resource looking free is its consequence.
    if (flags.length === 0 && (reserved.cpu > 0 || reserved.memoryBytes > 0)) {
      const share = (key: keyof UsageFigures) => (n.capacity[key] > 0 ? Math.max(0, free[key]) / n.capacity[key] : 0);
      const cpuFree = share('cpu');
      const memFree = share('memoryBytes');
      if (Math.abs(cpuFree - memFree) >= opts.mismatchGap) {
        const stranded: Resource = cpuFree > memFree ? 'cpu' : 'memory';
        flags.push({
          kind: 'mismatch',
          resource: stranded,
          message: `${pct(cpuFree)} of cpu and ${pct(memFree)} of memory free: ${stranded} stranded`,
        });
      }
    }
    return { name: n.name, capacity: n.capacity, reserved, used: n.used, free, flags };
  });

  const services: ServiceFit[] = [];
  for (const [i, n] of inputs.entries()) {
    for (const [service, s] of Object.entries(n.services)) {
      const flags: Flag[] = [];
      const want = { cpu: s.reserved.cpu ?? 0, memoryBytes: s.reserved.memoryBytes ?? 0 };
      if (want.cpu > 0 || want.memoryBytes > 0) {
        // Free on each node for this service: its own node counts it as not there.
        const fits = nodes.some((node, j) => {
          const back = j === i ? want : { cpu: 0, memoryBytes: 0 };
          return node.free.cpu + back.cpu >= want.cpu && node.free.memoryBytes + back.memoryBytes >= want.memoryBytes;
        });
        if (!fits) {
          const what = RES.filter(({ key }) => want[key] > 0).map(({ key, show }) => show(want[key])).join(' and ');
          flags.push({ kind: 'shortage', message: `reservation of ${what} fits on no node's free capacity` });
        }
      }
      if (s.used) {
        for (const { r, key, show } of RES) {
          const res = key === 'cpu' ? s.reserved.cpu : s.reserved.memoryBytes;
          if (res && s.used[key] < opts.wasteBelow * res) {
            flags.push({ kind: 'waste', resource: r, message: `uses ${show(s.used[key])} of ${show(res)} reserved (${pct(s.used[key] / res)})` });
          }
        }
      }
      services.push({ service, node: n.name, windowSeconds: n.windowSeconds, ...s, flags });
    }
  }
  services.sort((a, b) => a.service.localeCompare(b.service) || a.node.localeCompare(b.node));
  return { nodes, services };
}
