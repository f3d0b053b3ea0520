// The status page's JSON (`GET /v1/status` and each `status` message of `GET /v1/status/stream`): a
// contract, documented in docs/status-page.md. Shapes only: the browser code (src/ui/) imports these types.
import type { CapacityReport } from '../capacity/report.js';
import type { Condition, EndpointHealth, NodeFacts, NodeUtilization } from '../types.js';
export type { CapacityNode, CapacityReport, CapacityService } from '../capacity/report.js';

/** The watcher's own state. */
export interface WatcherState {
  id: string;
  role: 'leader' | 'standby';
  /** etcd answers this watcher's feed. */
  etcdAnswering: boolean;
  /** The copy is current (and, when leading, every node compared with its status record). */
  inSync: boolean;
  /** The mass-failure guard holds remedy hooks back. */
  massFailure: boolean;
  /** The endpoint view has taken its first listing. */
  endpointsSynced: boolean;
}

/** One node, as this watcher's copy shows it. */
export interface NodeStatus {
  name: string;
  /** `up`/`leaving` while registered; `left` or `failed` once its live record is gone; `unknown` when unreadable. */
  state: 'up' | 'leaving' | 'left' | 'failed' | 'unknown';
  address: string | null;
  labels: Record<string, string>;
  /** When the current (or, once gone, the latest) registration was written. */
  registeredAt: string | null;
  agentVersion: string | null;
  ttl: number | null;
  facts: NodeFacts | null;
  utilization: NodeUtilization | null;
  conditions: Condition[];
  /** The node's maintenance marker, when present. */
  maintenance: { reason: string | null; services: Record<string, string>; updatedAt: string } | null;
  /** When its graceful leave was marked, if it left. */
  leftAt: string | null;
}

/** One endpoint of a service. */
export interface EndpointStatus {
  node: string;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  tags: string[];
  health: EndpointHealth;
  /** Output of the check that decided `health` (capped by the agent). */
  output: string;
  since: string;
}

/** One service and its endpoints, sorted by node. */
export interface ServiceStatus {
  name: string;
  endpoints: EndpointStatus[];
}

/** One event: a watcher event (NodeFailed...) or a node-problem event from an agent. */
export interface EventStatus {
  origin: 'watcher' | 'node';
  id: string;
  /** The event's time (a node-problem event: its latest occurrence). */
  time: string;
  node: string;
  /** The watcher event type (`NodeFailed`) or the problem's reason (`OOMKilling`). */
  type: string;
  reason: string;
  message: string;
  severity: 'info' | 'warn';
}

/** Everything the page shows, at one moment. */
export interface StatusSnapshot {
  schema: 1;
  /** Increases with every change pushed by this watcher process. */
  seq: number;
  generatedAt: string;
  watcher: WatcherState;
  /** Records the codec refused and skipped: keys invalid now, distinct refusals since the watcher started. */
  invalid: { current: number; total: number };
  nodes: NodeStatus[];
  services: ServiceStatus[];
  /** The newest events, newest first; `eventsTotal` counts every retained one. */
  events: EventStatus[];
  eventsTotal: number;
  /**
   * Capacity, reservations and use of the registered nodes and their services, with the shortage, waste
   * and mismatch flags: `beacon capacity -o json`'s shape and computation (src/capacity/report.ts).
   */
  capacity: CapacityReport;
}
