// The node's maintenance marker, `<prefix>/v1/nodes/<node>/maintenance` (unleased: it outlives a restart).
// What is in maintenance is held where it takes effect, by the endpoints' health tracker (HealthChecks);
// this adds what the marker needs besides: when it last changed, the record to write, and the changes
// made through the API before the stored marker was read at start, which are newer and so go on top.
import { SCHEMA_VERSION, type MaintenanceRecord } from '../types.js';
import type { MaintenanceState } from './api.js';

/** Where maintenance takes effect (HealthChecks). */
export interface MaintenanceTarget {
  maintenance(): MaintenanceState;
  setMaintenance(service: string | undefined, reason: string | null): void;
}

/** The maintenance marker of one node. */
export class MaintenanceMarker {
  private updatedAt: string;
  /** Changes made before restore(); undefined once restored. */
  private early: [string | undefined, string | null][] | undefined = [];

  constructor(
    private readonly target: MaintenanceTarget,
    /** When the agent started: the marker's time until something changes. */
    startedAt: string,
  ) {
    this.updatedAt = startedAt;
  }

  /** What is in maintenance now. */
  state(): MaintenanceState {
    return this.target.maintenance();
  }

  /** Set (`reason`) or clear (null) one service's maintenance, or the node's when `service` is undefined; returns the new state, or undefined when nothing changed. */
  set(service: string | undefined, reason: string | null): MaintenanceState | undefined {
    this.early?.push([service, reason]);
    const cur = this.state();
    const next = withMaintenance(cur, service, reason);
    if (JSON.stringify(next) === JSON.stringify(cur)) return undefined;
    this.apply(cur, next);
    this.updatedAt = new Date().toISOString();
    return next;
  }

  /** Start from the stored marker (undefined: none, or unreadable), with any change made meanwhile on top. */
  restore(m: MaintenanceRecord | undefined): void {
    const early = this.early ?? [];
    this.early = undefined;
    let next: MaintenanceState = m ? { node: m.reason, services: { ...m.services } } : { node: null, services: {} };
    for (const [service, reason] of early) next = withMaintenance(next, service, reason);
    if (m && early.length === 0) this.updatedAt = m.updatedAt;
    this.apply(this.state(), next);
  }

  /** The record to store: present only while something is in maintenance (deleted when the last maintenance ends). */
  record(node: string): MaintenanceRecord | undefined {
    const m = this.state();
    if (m.node === null && Object.keys(m.services).length === 0) return undefined;
    return { schema: SCHEMA_VERSION, node, reason: m.node, services: m.services, updatedAt: this.updatedAt };
  }

  private apply(prev: MaintenanceState, next: MaintenanceState): void {
    if (prev.node !== next.node) this.target.setMaintenance(undefined, next.node);
    for (const name of new Set([...Object.keys(prev.services), ...Object.keys(next.services)])) {
      const now = next.services[name] ?? null;
      if ((prev.services[name] ?? null) !== now) this.target.setMaintenance(name, now);
    }
  }
}

/** `m` with one change: the node's (`service` undefined) or one service's maintenance set or cleared. */
function withMaintenance(m: MaintenanceState, service: string | undefined, reason: string | null): MaintenanceState {
  const next: MaintenanceState = { node: m.node, services: { ...m.services } };
  if (service === undefined) next.node = reason;
  else if (reason === null) delete next.services[service];
  else next.services[service] = reason;
  return next;
}
