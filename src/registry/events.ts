// Node events from both of their writers, for every reader (`beacon events`, `describe node`, the status
// page): the watcher's lifecycle events (`<prefix>/v1/watcher/events/`: NodeFailed, NodeLeft...) and the
// agents' node problem events (`<prefix>/v1/events/<node>/`: OOMKilling, KernelOops..., written by the
// problem monitors). kubectl describe node shows both kinds as one list; so does beacon, each event saying
// where it came from. Decoded by the one codec; what fails is skipped and returned as an error.
import type { EventRecord, NodeEvent } from '../types.js';
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { decodeKey } from './codec.js';

/** Who wrote an event: the watcher (a node's lifecycle), or the node's agent (a problem monitor). */
export type EventOrigin = 'watcher' | 'node';

/** One event of either kind, with the record as stored. */
export type FleetEvent = { origin: 'watcher'; record: NodeEvent } | { origin: 'node'; record: EventRecord };

/** When it happened: the watcher's time, or a node event's latest occurrence (it is coalesced with a count). */
export function eventTime(e: FleetEvent): string {
  return e.origin === 'watcher' ? e.record.time : e.record.lastTime;
}

/** Whether the event is about `node` (a PartitionSuspected event names every node it suspects). */
export function isAbout(e: FleetEvent, node: string): boolean {
  return e.record.node === node || (e.origin === 'watcher' && e.record.nodes?.includes(node) === true);
}

/**
 * What makes an event new to a follower: a watcher event once per id (a rewrite of the same id records a
 * hook's outcome), a node event once per id and count (a higher count is the problem happening again).
 */
export function eventIdentity(e: FleetEvent): string {
  return e.origin === 'watcher' ? `watcher/${e.record.id}` : `node/${e.record.node}/${e.record.id}/${e.record.count}`;
}

/** Oldest first: by time, then by origin and id (a stable order for equal times). */
export function byTime(a: FleetEvent, b: FleetEvent): number {
  const ta = Date.parse(eventTime(a));
  const tb = Date.parse(eventTime(b));
  return ta - tb || eventIdentity(a).localeCompare(eventIdentity(b));
}

/**
 * Decode event keys of either prefix into events, oldest first; other keys are ignored. A watcher event is
 * trusted only under the watcher's lease and a node event only under its node's key (the codec's binding).
 */
export function decodeEvents(keys: Keys, kvs: Iterable<KeyValue>, onError: (err: DecodeError) => void): FleetEvent[] {
  const out: FleetEvent[] = [];
  for (const kv of kvs) {
    const r = decodeKey(keys, kv);
    if (r instanceof DecodeError) onError(r);
    else if (r?.kind === 'watcher-event') out.push({ origin: 'watcher', record: r.record });
    else if (r?.kind === 'node-event') out.push({ origin: 'node', record: r.record });
  }
  return out.sort(byTime);
}

/** The prefixes events are read from: every node's, or one node's problem events, and the watcher's. */
export function eventPrefixes(keys: Keys, node?: string): { watcher: string; node: string } {
  return { watcher: keys.watcherEvents, node: node === undefined ? keys.events : keys.nodeEvents(node) };
}

/**
 * Every event still kept (both prefixes, two reads at once), oldest first; with `node`, only those about it
 * (its problem events are one prefix read). Records that fail the codec come back in `errors`.
 */
export async function readEvents(store: Store, keys: Keys, opts: { node?: string } = {}): Promise<{ events: FleetEvent[]; errors: DecodeError[] }> {
  const prefixes = eventPrefixes(keys, opts.node);
  const [watcher, node] = await Promise.all([store.list(prefixes.watcher), store.list(prefixes.node)]);
  const errors: DecodeError[] = [];
  const all = decodeEvents(keys, [...watcher.kvs, ...node.kvs], (e) => errors.push(e));
  const { node: only } = opts;
  return { events: only === undefined ? all : all.filter((e) => isAbout(e, only)), errors };
}
