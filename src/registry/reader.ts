// Read the registry back for consumers (CLI, client library): decode (the one codec, schema/v1/), skip and
// count what fails.
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import type { Condition, EndpointRecord, MaintenanceRecord, NodeIdentity, NodeRecord } from '../types.js';
import type { NodeUsageRecord } from '../usage/record.js';
import { decodeKey } from './codec.js';
import { leftGracefully } from './leave.js';

/** What is known of one node name: its live record (if registered) and its identity. */
export interface NodeEntry {
  name: string;
  live?: NodeRecord;
  identity?: NodeIdentity;
  /** The node's conditions record (agents with `problems` configured), while registered. */
  conditions?: Condition[];
  /** The node's maintenance marker (unleased: kept while the node is gone too). */
  maintenance?: MaintenanceRecord;
  /** The node's usage record (agents whose services declare resources, unit or cgroup), while registered. */
  usage?: NodeUsageRecord;
  /** A live key exists but fails the schema: registered or not is unknown, so views leave the node out. */
  liveUnreadable?: true;
}

/** What is in maintenance on a node: the whole node (`reason`) and/or some services, since `updatedAt`. */
export interface NodeMaintenance {
  /** Why the whole node is in maintenance, or null when only services are. */
  reason: string | null;
  /** Services in maintenance on their own: name → reason. */
  services: Record<string, string>;
  /** When maintenance last changed (ISO 8601). */
  updatedAt: string;
}

/** How a node looks to a reader: `up`/`leaving` while registered; `left` or `failed` after. */
export type NodeStatus = 'up' | 'leaving' | 'left' | 'failed';

/** One node as the CLI and library show it. */
export interface NodeView {
  name: string;
  status: NodeStatus;
  address: string;
  bootId: string;
  machineId: string;
  labels: Record<string, string>;
  services: string[];
  lease: string;
  registeredAt: string;
  /** Every declared condition (docs/keys.md, node conditions); empty when the node reports none. */
  conditions: Condition[];
  /** What is in maintenance on the node, registered or not; null when nothing is. */
  maintenance: NodeMaintenance | null;
  live?: NodeRecord;
}

/** Everything read in one go, with the keys that could not be decoded. */
export interface Snapshot {
  nodes: Map<string, NodeEntry>;
  endpoints: EndpointRecord[];
  errors: DecodeError[];
}

/** Decode every node and endpoint key under the prefix (two prefix reads). */
export async function readRegistry(store: Store, keys: Keys): Promise<Snapshot> {
  const [nodes, services] = await Promise.all([store.list(keys.nodes), store.list(keys.services)]);
  return buildSnapshot(keys, [...nodes.kvs, ...services.kvs]);
}

/** Build a snapshot from raw key-values (also used by watchers that keep their own copy). */
export function buildSnapshot(keys: Keys, kvs: KeyValue[]): Snapshot {
  const snap: Snapshot = { nodes: new Map(), endpoints: [], errors: [] };
  const entry = (name: string) => {
    let e = snap.nodes.get(name);
    if (!e) snap.nodes.set(name, (e = { name }));
    return e;
  };
  // Attached after the loop: a conditions or maintenance key alone (no live or identity record) makes no node.
  const conditions = new Map<string, Condition[]>();
  const maintenance = new Map<string, MaintenanceRecord>();
  const usage = new Map<string, NodeUsageRecord>();
  for (const kv of kvs) {
    const r = decodeKey(keys, kv);
    if (r === undefined) continue; // not a key beacon writes: not ours to judge
    if (r instanceof DecodeError) {
      snap.errors.push(r);
      const k = keys.parse(kv.key);
      if (k.kind === 'live') entry(k.node).liveUnreadable = true;
    } else if (r.kind === 'node-live') entry(r.record.name).live = r.record;
    else if (r.kind === 'node-identity') entry(r.record.name).identity = r.record;
    else if (r.kind === 'node-conditions') conditions.set(r.record.node, r.record.conditions);
    else if (r.kind === 'node-maintenance') maintenance.set(r.record.node, r.record);
    else if (r.kind === 'node-usage') usage.set(r.record.node, r.record);
    else if (r.kind === 'endpoint') snap.endpoints.push(r.record);
  }
  for (const [node, list] of conditions) {
    const e = snap.nodes.get(node);
    if (e) e.conditions = list;
  }
  for (const [node, m] of maintenance) {
    const e = snap.nodes.get(node);
    if (e) e.maintenance = m;
  }
  for (const [node, rec] of usage) {
    const e = snap.nodes.get(node);
    if (e) e.usage = rec;
  }
  snap.endpoints.sort((a, b) => a.service.localeCompare(b.service) || a.node.localeCompare(b.node));
  return snap;
}

/** The status of a node entry: registered, or gone gracefully (leave marker on its lease), or failed. */
export function nodeStatus(e: NodeEntry): NodeStatus {
  if (e.live) return e.live.state === 'leaving' ? 'leaving' : 'up';
  if (leftGracefully(e.identity, e.identity?.lease)) return 'left';
  return 'failed';
}

/** Node views sorted by name. */
export function nodeViews(snap: Snapshot): NodeView[] {
  const services = new Map<string, string[]>();
  for (const ep of snap.endpoints) services.set(ep.node, [...(services.get(ep.node) ?? []), ep.service]);
  return [...snap.nodes.values()]
    // Neither up nor failed can be claimed for a node whose live record is unreadable (its error says why).
    .filter((e) => e.live || !e.liveUnreadable)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => {
      const src = e.live ?? e.identity;
      return {
        name: e.name,
        status: nodeStatus(e),
        address: e.live?.address ?? '',
        bootId: src?.bootId ?? '',
        machineId: src?.machineId ?? '',
        labels: e.live?.labels ?? {},
        services: (services.get(e.name) ?? []).sort(),
        lease: e.live?.lease ?? '',
        registeredAt: src?.registeredAt ?? '',
        // Leased like the live record: a leftover of a gone node would not be current.
        conditions: e.live ? (e.conditions ?? []) : [],
        maintenance: maintenanceOf(e.maintenance),
        ...(e.live ? { live: e.live } : {}),
      };
    });
}

// A marker that puts nothing in maintenance (the agent deletes it then, but a stale one may stay) counts as none.
function maintenanceOf(m: MaintenanceRecord | undefined): NodeMaintenance | null {
  if (!m || (m.reason === null && Object.keys(m.services).length === 0)) return null;
  return { reason: m.reason, services: m.services, updatedAt: m.updatedAt };
}

/** Every node with something in maintenance (sorted by name). */
export function inMaintenance(views: readonly NodeView[]): (NodeView & { maintenance: NodeMaintenance })[] {
  return views.filter((v): v is NodeView & { maintenance: NodeMaintenance } => v.maintenance !== null);
}

/** One service's endpoints (one prefix read), or every service's when `service` is absent. */
export async function listEndpoints(
  store: Store,
  keys: Keys,
  service?: string,
): Promise<{ endpoints: EndpointRecord[]; errors: DecodeError[] }> {
  const { kvs } = await store.list(service ? keys.service(service) : keys.services);
  const snap = buildSnapshot(keys, kvs);
  return { endpoints: snap.endpoints, errors: snap.errors };
}
