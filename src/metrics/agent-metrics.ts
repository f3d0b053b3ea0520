// The agent's metrics. State (registered, check and condition status) is read from the agent when
// scraped, so it can never disagree with what the agent believes; what happens (keepalives,
// re-registrations, problem events) is counted from the events of the parts that do it.
import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ConditionStatus, EndpointHealth, HealthStatus, ProblemEvent } from '../types.js';
import type { LostKind } from '../registry/registration.js';
import type { LiveUsage } from '../agent/usage-monitor.js';

/** What the agent tells its metrics when scraped. */
export interface AgentState {
  /** The agent's own truth: last keepalive + TTL not passed. */
  isRegistered(): boolean;
  /** Every check's current status. */
  checkStatuses(): Iterable<{ service: string; check: string; status: HealthStatus }>;
  /** Every endpoint's health as written to etcd (maintenance included). */
  endpointHealth(): Iterable<{ service: string; health: EndpointHealth }>;
  /** The node's merged conditions (empty without problem detection). */
  conditions(): Iterable<{ type: string; status: ConditionStatus }>;
  /** Resource figures as measured now (docs/capacity.md); undefined when no service declares resources, unit or cgroup. */
  usage?(): LiveUsage | undefined;
}

// kube-state-metrics' convention: one gauge per figure, the resource and its unit as labels.
const RESOURCES = [
  { resource: 'cpu', unit: 'core', of: (f: { cpu: number | null }) => f.cpu },
  { resource: 'memory', unit: 'byte', of: (f: { memoryBytes: number | null }) => f.memoryBytes },
] as const;

const CHECK_STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];
const ENDPOINT_HEALTH: readonly EndpointHealth[] = ['passing', 'warning', 'critical', 'maintenance'];
const CONDITION_STATUSES: readonly ConditionStatus[] = ['True', 'False', 'Unknown'];

/** Registers the agent's metrics in `registry` and keeps the event-driven ones current. */
export class AgentMetrics {
  private readonly keepalive: Histogram;
  private readonly registrations: Counter<'kind'>;
  private readonly lost: Counter<'reason'>;
  private readonly events: Counter<'reason'>;
  /** Count already reported per problem event id: a coalesced event is re-emitted with a higher count. */
  private readonly eventCounts = new Map<string, number>();
  /** Why the last registration was lost, until the next one is written. */
  private lostKind: LostKind | undefined;
  private registeredOnce = false;

  constructor(registry: Registry, state: AgentState) {
    const registers = [registry];
    new Gauge({
      name: 'beacon_agent_registered',
      help: 'Whether the node is registered now (1) or not (0): last successful keepalive + lease TTL not passed.',
      registers,
      collect() {
        this.set(state.isRegistered() ? 1 : 0);
      },
    });
    this.keepalive = new Histogram({
      name: 'beacon_agent_keepalive_duration_seconds',
      help: 'Round trip of successful lease keepalives to etcd.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.registrations = new Counter({
      name: 'beacon_agent_registrations_total',
      help: 'Registrations established: kind="initial" for the first one, "reregistration" after a lost lease (a new lease, or the old one found alive after an etcd restart).',
      labelNames: ['kind'],
      registers,
    });
    this.lost = new Counter({
      name: 'beacon_agent_reregistrations_total',
      help: 'Re-registrations after a lost lease, by why it was lost.',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'beacon_agent_check_status',
      help: 'Current status of each health check: 1 for the status it has, 0 for the others.',
      labelNames: ['service', 'check', 'status'],
      registers,
      collect() {
        this.reset();
        for (const c of state.checkStatuses()) {
          for (const s of CHECK_STATUSES) this.set({ service: c.service, check: c.check, status: s }, c.status === s ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'beacon_agent_endpoint_health',
      help: 'Health of each of the node\'s endpoints as written to etcd: 1 for the health it has, 0 for the others.',
      labelNames: ['service', 'health'],
      registers,
      collect() {
        this.reset();
        for (const e of state.endpointHealth()) {
          for (const h of ENDPOINT_HEALTH) this.set({ service: e.service, health: h }, e.health === h ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'beacon_agent_condition',
      help: 'Node conditions (problem detection): 1 for the status each condition type has, 0 for the others.',
      labelNames: ['type', 'status'],
      registers,
      collect() {
        this.reset();
        for (const c of state.conditions()) {
          for (const s of CONDITION_STATUSES) this.set({ type: c.type, status: s }, c.status === s ? 1 : 0);
        }
      },
    });
    // Service names are config names (validated: letters, digits, '.', '_', '-'), safe as label values.
    new Gauge({
      name: 'beacon_node_resource_capacity',
      help: 'The node\'s capacity per resource (cpu in cores, memory in bytes), from its facts.',
      labelNames: ['resource', 'unit'],
      registers,
      collect() {
        this.reset();
        const u = state.usage?.();
        if (u) for (const r of RESOURCES) this.set({ resource: r.resource, unit: r.unit }, r.of(u.capacity) ?? 0);
      },
    });
    new Gauge({
      name: 'beacon_node_resource_reserved',
      help: 'Sum of the reservations of the node\'s services per resource (config `resources:`).',
      labelNames: ['resource', 'unit'],
      registers,
      collect() {
        this.reset();
        const u = state.usage?.();
        if (u) for (const r of RESOURCES) this.set({ resource: r.resource, unit: r.unit }, r.of(u.reserved) ?? 0);
      },
    });
    new Gauge({
      name: 'beacon_node_resource_used',
      help: 'The node\'s own use per resource, averaged over capacity.window (absent until the window has filled).',
      labelNames: ['resource', 'unit'],
      registers,
      collect() {
        this.reset();
        const used = state.usage?.()?.used;
        if (used) for (const r of RESOURCES) this.set({ resource: r.resource, unit: r.unit }, r.of(used) ?? 0);
      },
    });
    new Gauge({
      name: 'beacon_service_resource_reserved',
      help: 'What each service reserves per resource (config `resources:`); absent for a resource it does not declare.',
      labelNames: ['service', 'resource', 'unit'],
      registers,
      collect() {
        this.reset();
        for (const s of state.usage?.()?.services ?? []) {
          for (const r of RESOURCES) {
            const v = r.of(s.reserved);
            if (v !== null) this.set({ service: s.name, resource: r.resource, unit: r.unit }, v);
          }
        }
      },
    });
    new Gauge({
      name: 'beacon_service_resource_used',
      help: 'What each service uses per resource, averaged over capacity.window (absent until the window has filled or while its source fails).',
      labelNames: ['service', 'resource', 'unit'],
      registers,
      collect() {
        this.reset();
        for (const s of state.usage?.()?.services ?? []) {
          if (s.used) for (const r of RESOURCES) this.set({ service: s.name, resource: r.resource, unit: r.unit }, r.of(s.used) ?? 0);
        }
      },
    });
    new Gauge({
      name: 'beacon_service_cpu_seconds',
      help: 'CPU time each measured service has consumed, as the kernel counts it for its cgroup or unit at the last sample (a counter read as a gauge: the group may be recreated).',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const s of state.usage?.()?.services ?? []) if (s.cpuSecondsTotal !== null) this.set({ service: s.name }, s.cpuSecondsTotal);
      },
    });
    new Gauge({
      name: 'beacon_service_memory_bytes',
      help: 'Memory charged to each measured service at the last sample, as the kernel counts it.',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const s of state.usage?.()?.services ?? []) if (s.memoryBytesNow !== null) this.set({ service: s.name }, s.memoryBytesNow);
      },
    });
    this.events = new Counter({
      name: 'beacon_agent_problem_events_total',
      help: 'Node problem events (kernel log rules), by reason; a coalesced event counts each occurrence.',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Follow a Registration's `registered`, `lost` and `keepalive` events. */
  observeRegistration(reg: EventEmitter): void {
    reg.on('keepalive', (ms: number) => this.keepalive.observe(ms / 1000));
    reg.on('lost', (_reason: string, kind: LostKind) => (this.lostKind = kind));
    reg.on('registered', () => {
      if (this.registeredOnce) {
        this.registrations.inc({ kind: 'reregistration' });
        this.lost.inc({ reason: this.lostKind ?? 'unknown' });
      } else {
        this.registrations.inc({ kind: 'initial' });
      }
      this.registeredOnce = true;
      this.lostKind = undefined;
    });
  }

  /** Count problem events as the monitor emits them (each occurrence once, also when coalesced). */
  problemEvents(events: readonly ProblemEvent[]): void {
    for (const e of events) {
      const before = this.eventCounts.get(e.id) ?? 0;
      if (e.count > before) this.events.inc({ reason: e.reason }, e.count - before);
      this.eventCounts.delete(e.id);
      this.eventCounts.set(e.id, Math.max(before, e.count));
    }
    // Ids are only re-emitted while coalescing: the recent ones are enough.
    while (this.eventCounts.size > 1024) this.eventCounts.delete(this.eventCounts.keys().next().value!);
  }
}
