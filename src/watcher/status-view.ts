// Builds the status page's snapshot (status-types.ts) from what the watcher process already keeps in
// memory: its copy of the node keys, the /http_sd endpoint view and the recent events. Nothing here reads
// etcd, so a snapshot costs etcd nothing however many pages are open.
import { fleetReport, nodeInput } from '../capacity/report.js';
import type { NodeInput } from '../capacity/fit.js';
import type { EndpointRecord, NodeRecord } from '../types.js';
import type { EndpointView } from './http-sd.js';
import type { AnyEvent, RecentEvents } from './recent-events.js';
import type { EventStatus, NodeStatus, ServiceStatus, StatusSnapshot, WatcherState } from './status-types.js';
import type { Watcher } from './watcher.js';

/** Events the page receives: the newest ones (the rest stay in etcd for `beacon events`). */
export const MAX_EVENTS = 100;

/** What a snapshot is built from. */
export interface StatusSources {
  id: string;
  watcher: Pick<Watcher, 'isLeader' | 'etcdAnswering' | 'inSync' | 'massFailureTripped' | 'nodeStates' | 'nodeRecords' | 'invalidRecords'>;
  endpoints: Pick<EndpointView, 'records' | 'synced'>;
  events: Pick<RecentEvents, 'newest'>;
  /** Event keys refused by the codec (added to the watcher's node and service keys). */
  invalidEvents?: () => { current: number; total: number };
}

/** Builds snapshots; remembers each node's last live record so a failed node still shows its address and labels. */
export class StatusView {
  private readonly lastLive = new Map<string, NodeRecord>();

  constructor(private readonly src: StatusSources) {}

  /** The current state (without `seq` and `generatedAt`, which the publisher sets). */
  build(): Omit<StatusSnapshot, 'seq' | 'generatedAt'> {
    const { watcher } = this.src;
    const states = watcher.nodeStates();
    const recs = watcher.nodeRecords;
    for (const name of this.lastLive.keys()) if (!states.has(name)) this.lastLive.delete(name);
    const nodes: NodeStatus[] = [];
    // Capacity counts the registered nodes, as `beacon capacity` does: a gone node offers nothing.
    const fitInputs: NodeInput[] = [];
    for (const name of [...states.keys()].sort(cmp)) {
      const live = recs.live.get(name)?.record;
      if (live) this.lastLive.set(name, live);
      if (live?.state === 'up') fitInputs.push(nodeInput(name, live.facts, recs.usageRecords.get(name)));
      const r = live ?? this.lastLive.get(name);
      const identity = recs.identity.get(name);
      const m = recs.maintenanceRecords.get(name);
      nodes.push({
        name,
        state: states.get(name)!,
        address: r?.address ?? null,
        labels: r?.labels ?? {},
        registeredAt: r?.registeredAt ?? identity?.registeredAt ?? null,
        agentVersion: r?.agentVersion ?? null,
        ttl: r?.ttl ?? null,
        facts: r?.facts ?? null,
        utilization: r?.utilization ?? null,
        // Conditions live under the node's lease: a gone node has none, which says nothing about its health.
        conditions: recs.conditionRecords.get(name)?.conditions ?? [],
        maintenance: m ? { reason: m.reason, services: m.services, updatedAt: m.updatedAt } : null,
        leftAt: identity?.left?.at ?? null,
      });
    }
    const state: WatcherState = {
      id: this.src.id,
      role: watcher.isLeader ? 'leader' : 'standby',
      etcdAnswering: watcher.etcdAnswering,
      inSync: watcher.inSync,
      massFailure: watcher.massFailureTripped,
      endpointsSynced: this.src.endpoints.synced,
    };
    const { events, total } = this.src.events.newest(MAX_EVENTS);
    const invalid = watcher.invalidRecords();
    const more = this.src.invalidEvents?.() ?? { current: 0, total: 0 };
    return {
      schema: 1,
      watcher: state,
      invalid: { current: invalid.current + more.current, total: invalid.total + more.total },
      nodes,
      services: services(this.src.endpoints.records()),
      events: events.map(eventStatus),
      eventsTotal: total,
      capacity: fleetReport(fitInputs),
    };
  }
}

function services(records: Iterable<EndpointRecord>): ServiceStatus[] {
  const by = new Map<string, ServiceStatus>();
  for (const e of records) {
    let s = by.get(e.service);
    if (!s) by.set(e.service, (s = { name: e.service, endpoints: [] }));
    s.endpoints.push({ node: e.node, address: e.address, port: e.port, protocol: e.protocol, tags: e.tags, health: e.health, output: e.output, since: e.since });
  }
  const out = [...by.values()].sort((a, b) => cmp(a.name, b.name));
  for (const s of out) s.endpoints.sort((a, b) => cmp(a.node, b.node));
  return out;
}

const WARN_EVENTS = new Set(['NodeFailed', 'PartitionSuspected', 'LeaseRevoked']);

function eventStatus(e: AnyEvent): EventStatus {
  if (e.origin === 'node') {
    const r = e.record;
    const times = r.count > 1 ? ` (${r.count} times since ${r.firstTime})` : '';
    return { origin: 'node', id: r.id, time: r.lastTime, node: r.node, type: r.reason, reason: r.source, message: `${r.message}${times}`, severity: r.severity };
  }
  const r = e.record;
  const parts = [`was ${r.previous}`, `detected by ${r.detectedBy}`];
  if (r.address) parts.push(`address ${r.address}`);
  if (r.downtimeMs !== undefined) parts.push(`down ${Math.round(r.downtimeMs / 1000)} s`);
  if (r.nodes) parts.push(`${r.failed ?? r.nodes.length} of ${r.known ?? '?'} nodes: ${r.nodes.slice(0, 20).join(', ')}`);
  return {
    origin: 'watcher',
    id: r.id,
    time: r.time,
    node: r.node,
    type: r.event,
    reason: r.reason,
    message: parts.join('; '),
    severity: WARN_EVENTS.has(r.event) ? 'warn' : 'info',
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
