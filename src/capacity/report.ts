// The capacity report as every reader publishes it: `beacon capacity -o json`, `describe node -o json`'s
// `capacity` field and the status page's `capacity` (docs/capacity.md documents the fields: a contract).
// One shape and one way from records to fit.ts's inputs, so the three cannot disagree.
import type { NodeFacts, NodeUsageRecord, UsageFigures } from '../types.js';
import { fit, type Flag, type FitOptions, type NodeFit, type NodeInput, type ServiceFit } from './fit.js';

/** One node of the report: fit()'s own result, published as it is. */
export type CapacityNode = NodeFit;

/** One service on one node of the report. */
export interface CapacityService {
  service: string;
  node: string;
  reserved: { cpu: number | null; memoryBytes: number | null };
  used: UsageFigures | null;
  windowSeconds: number | null;
  source: string | null;
  error: string | null;
  flags: Flag[];
}

/** Nodes by name; services by service, then node. */
export interface CapacityReport {
  nodes: CapacityNode[];
  services: CapacityService[];
}

/** A registered node's input to fit(): capacity from its usage record, else from its facts. */
export function nodeInput(name: string, facts: Pick<NodeFacts, 'cpus' | 'memoryBytes'>, usage: NodeUsageRecord | undefined): NodeInput {
  return {
    name,
    capacity: usage?.capacity ?? { cpu: facts.cpus, memoryBytes: facts.memoryBytes },
    used: usage?.used ?? null,
    windowSeconds: usage?.windowSeconds ?? null,
    services: usage?.services ?? {},
  };
}

const figures = (f: UsageFigures | null): UsageFigures | null => (f ? { cpu: f.cpu, memoryBytes: f.memoryBytes } : null);
const flags = (fs: Flag[]): Flag[] => fs.map((f) => ({ kind: f.kind, ...(f.resource ? { resource: f.resource } : {}), message: f.message }));

/** The report of fit()'s result, with only the documented fields. */
export function capacityReport(nodes: readonly NodeFit[], services: readonly ServiceFit[]): CapacityReport {
  return {
    nodes: nodes.map((n) => ({ name: n.name, capacity: figures(n.capacity)!, reserved: figures(n.reserved)!, used: figures(n.used), free: figures(n.free)!, flags: flags(n.flags) })),
    services: services.map((s) => ({
      service: s.service,
      node: s.node,
      reserved: { cpu: s.reserved.cpu, memoryBytes: s.reserved.memoryBytes },
      used: figures(s.used),
      windowSeconds: s.windowSeconds,
      source: s.source,
      error: s.error,
      flags: flags(s.flags),
    })),
  };
}

/** fit() over `inputs`, as a report. */
export function fleetReport(inputs: readonly NodeInput[], opts?: FitOptions): CapacityReport {
  const r = fit(inputs, opts);
  return capacityReport(r.nodes, r.services);
}
