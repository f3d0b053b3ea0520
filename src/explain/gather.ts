// Everything etcd holds about one node, read and decoded for `beacon explain` (src/explain/explain.ts):
// its records, its node problem events, the watcher's status, history, events and reactions about it,
// and the other nodes' statuses. Every value goes through the one codec; what fails is skipped and
// counted, never shown, and never stops the reading. The only part of the explanation that does I/O.
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import type { ConditionsRecord, EndpointRecord, EventRecord, HistoryEntry, MaintenanceRecord, NodeEvent, NodeIdentity, NodeRecord, ReactionRecord, StatusRecord } from '../types.js';
import { HISTORY_BOUNDS } from '../watcher/history.js';

/** The reads explainNode needs (a Store has them; timeToLive is optional: without it the lease is not asked). */
export type ExplainStore = Pick<Store, 'list' | 'get'> & Partial<Pick<Store, 'timeToLive'>>;

/** Everything read about one node, decoded. */
export interface Gathered {
  name: string;
  live?: NodeRecord;
  liveKv?: KeyValue;
  liveUnreadable: boolean;
  identity?: NodeIdentity;
  conditions?: ConditionsRecord;
  maintenance?: MaintenanceRecord;
  endpoints: EndpointRecord[];
  problems: EventRecord[];
  status?: StatusRecord;
  others: StatusRecord[];
  history: HistoryEntry[];
  events: NodeEvent[];
  partitions: NodeEvent[];
  reactions: ReactionRecord[];
  lease?: { ttl: number; grantedTtl: number };
  skipped: number;
}

/**
 * Read and decode everything about node `name` at `now`; each record that fails the codec is counted in
 * `skipped` and handed to `onSkipped`.
 */
export async function gather(
  store: ExplainStore,
  keys: Keys,
  name: string,
  now: Date,
  onSkipped?: (err: DecodeError) => void,
): Promise<Gathered> {
  const [own, services, problems, statuses, history, events, reactions] = await Promise.all([
    store.list(keys.node(name)),
    store.list(keys.services),
    store.list(keys.nodeEvents(name)),
    store.list(keys.statuses),
    store.get(keys.history(name)),
    store.list(keys.watcherEvents),
    store.list(keys.reactions),
  ]);
  const g: Gathered = { name, liveUnreadable: false, endpoints: [], problems: [], others: [], history: [], events: [], partitions: [], reactions: [], skipped: 0 };
  const skip = (e: DecodeError) => {
    g.skipped++;
    onSkipped?.(e);
  };
  const decode = (kv: KeyValue) => {
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) {
      skip(r);
      return undefined;
    }
    return r;
  };
  for (const kv of own.kvs) {
    const r = decode(kv);
    if (!r) {
      if (keys.parse(kv.key).kind === 'live') g.liveUnreadable = true;
      continue;
    }
    if (r.kind === 'node-live') (g.live = r.record), (g.liveKv = kv);
    else if (r.kind === 'node-identity') g.identity = r.record;
    else if (r.kind === 'node-conditions') g.conditions = r.record;
    else if (r.kind === 'node-maintenance') g.maintenance = r.record;
  }
  // Only this node's endpoints are judged: another node's garbage is not this explanation's business.
  for (const kv of services.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'endpoint' || k.node !== name) continue;
    const r = decode(kv);
    if (r?.kind === 'endpoint') g.endpoints.push(r.record);
  }
  for (const kv of problems.kvs) {
    const r = decode(kv);
    if (r?.kind === 'node-event') g.problems.push(r.record);
  }
  for (const kv of statuses.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'status') continue;
    // Other nodes' statuses are only compared by time: a bad one is skipped without a word (it is theirs).
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) {
      if (k.node === name) skip(r);
      continue;
    }
    if (r?.kind !== 'watcher-status') continue;
    if (r.record.node === name) g.status = r.record;
    else g.others.push(r.record);
  }
  if (history) {
    const r = decode(history);
    if (r?.kind === 'watcher-history') {
      // The age bound holds for readers too: an old record not rewritten since is not shown beyond it.
      g.history = r.record.entries.filter((e) => now.getTime() - Date.parse(e.time) <= HISTORY_BOUNDS.maxAgeMs);
    }
  }
  for (const kv of events.kvs) {
    // A record id names its node first (`<node>.<lease>.<type>`): other nodes' events are not decoded at all.
    const k = keys.parse(kv.key);
    const mine = k.kind === 'watcher-event' && (k.id.startsWith(`${name}.`) || k.id.startsWith('PartitionSuspected.'));
    if (!mine) continue;
    const r = decode(kv);
    if (r?.kind !== 'watcher-event') continue;
    if (r.record.node === name) g.events.push(r.record);
    else if (r.record.event === 'PartitionSuspected' && r.record.nodes?.includes(name)) g.partitions.push(r.record);
  }
  for (const kv of reactions.kvs) {
    const k = keys.parse(kv.key);
    if (k.kind !== 'reaction' || !k.id.startsWith(`${name}.`)) continue;
    const r = decode(kv);
    if (r?.kind === 'watcher-reaction' && r.record.event.node === name) g.reactions.push(r.record);
  }
  if (g.live && store.timeToLive) {
    // The lease as etcd has it now: remaining seconds (-1: gone although the key is still listed).
    g.lease = await store.timeToLive(g.live.lease).catch(() => undefined);
  }
  return g;
}
