// The watcher's copy of the node keys: live records and identities, rebuilt from a listing and kept
// current from the watch. Values are decoded by the one codec (schema/v1/); what fails is counted and kept
// as "present but unreadable", so garbage can neither invent nor hide a node, nor reach an etcd call.
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, WatchEvent } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import type { NodeIdentity, NodeRecord, NodeUsageRecord } from '../types.js';
import type { ConditionsRecord, MaintenanceRecord } from '../agent/records.js';

/** A live key as seen: its lease from etcd's metadata, the record when it decoded. */
export interface LiveEntry {
  lease: string;
  modRevision: string;
  record?: NodeRecord;
}

/** What a DELETE of a live key carried (from prevKV). */
export interface DeletedLive {
  lease: string;
  record?: NodeRecord;
  /** The etcd revision of the delete (absent when the delete was not seen in a watch). */
  revision?: string;
}

/** A node touched by a change, with the deleted live record when the change removed it. */
export interface Touched {
  node: string;
  deleted?: DeletedLive;
}

/** Told of each value that fails the codec (`reject`), and of each key that holds a valid value again or is gone (`clear`). */
export interface GarbageSink {
  reject(err: DecodeError, kv: KeyValue): void;
  clear(key: string): void;
  /** A listing replaces the whole copy: forget which node keys were invalid. */
  clearAll?(): void;
}

/**
 * Told when a node's conditions or maintenance record changes in the copy (a put of a new value or a
 * delete), with the value before and after; not told for the first listing (nothing to compare with).
 */
export interface RecordChanges {
  conditions?(node: string, before: ConditionsRecord | undefined, after: ConditionsRecord | undefined): void;
  maintenance?(node: string, before: MaintenanceRecord | undefined, after: MaintenanceRecord | undefined): void;
}

/** Live records and identities by node name. */
export class NodeModel {
  readonly live = new Map<string, LiveEntry>();
  readonly identity = new Map<string, NodeIdentity>();
  /** Nodes whose identity key exists but does not decode (so "no identity" is not assumed). */
  readonly badIdentity = new Set<string>();
  /** Each node's last valid conditions and maintenance records (for RecordChanges). */
  private conditions = new Map<string, ConditionsRecord>();
  private maintenance = new Map<string, MaintenanceRecord>();
  /** Each node's last valid usage record (the status page's capacity view). */
  private usage = new Map<string, NodeUsageRecord>();
  private listed = false;

  /** Each node's valid conditions record (read-only: the status page shows them). */
  get conditionRecords(): ReadonlyMap<string, ConditionsRecord> {
    return this.conditions;
  }

  /** Each node's valid maintenance record (read-only: the status page shows them). */
  get maintenanceRecords(): ReadonlyMap<string, MaintenanceRecord> {
    return this.maintenance;
  }

  /** Each node's valid usage record (read-only: the status page shows capacity from them). */
  get usageRecords(): ReadonlyMap<string, NodeUsageRecord> {
    return this.usage;
  }

  constructor(
    private readonly keys: Keys,
    private readonly onGarbage: GarbageSink,
    private readonly changes: RecordChanges = {},
  ) {}

  /** Every node name the model knows. */
  names(): Set<string> {
    return new Set([...this.live.keys(), ...this.identity.keys(), ...this.badIdentity]);
  }

  /** Replace everything with a listing; returns every node name before or after. */
  replace(kvs: readonly KeyValue[]): Set<string> {
    const before = this.names();
    this.live.clear();
    this.identity.clear();
    this.badIdentity.clear();
    this.onGarbage.clearAll?.();
    const [conditions, maintenance] = [this.conditions, this.maintenance];
    this.conditions = new Map();
    this.maintenance = new Map();
    this.usage = new Map();
    for (const kv of kvs) this.put(kv, false);
    // What changed while the watch was not looking (a gap): compared with the copy before the listing.
    if (this.listed) {
      for (const n of new Set([...conditions.keys(), ...this.conditions.keys()])) {
        if (!same(conditions.get(n), this.conditions.get(n))) this.changes.conditions?.(n, conditions.get(n), this.conditions.get(n));
      }
      for (const n of new Set([...maintenance.keys(), ...this.maintenance.keys()])) {
        if (!same(maintenance.get(n), this.maintenance.get(n))) this.changes.maintenance?.(n, maintenance.get(n), this.maintenance.get(n));
      }
    }
    this.listed = true;
    return new Set([...before, ...this.names()]);
  }

  /** Apply one watch event; returns the node it touched, if it is a node key beacon knows. */
  apply(ev: WatchEvent): Touched | undefined {
    const k = this.keys.parse(ev.kv.key);
    if (ev.type === 'put') this.put(ev.kv, true);
    else {
      this.onGarbage.clear(ev.kv.key);
      if (k.kind === 'conditions' || k.kind === 'maintenance') this.forget(k.kind, k.node, true);
      if (k.kind === 'usage') this.usage.delete(k.node);
    }
    if (k.kind !== 'live' && k.kind !== 'identity') return undefined;
    if (ev.type === 'put') return { node: k.node };
    if (k.kind === 'identity') {
      this.identity.delete(k.node);
      this.badIdentity.delete(k.node);
      return { node: k.node };
    }
    this.live.delete(k.node);
    const prev = ev.prev;
    const revision = ev.kv.modRevision;
    if (!prev) return { node: k.node, deleted: { lease: '', ...(revision ? { revision } : {}) } };
    const rec = this.decodeLive(prev);
    this.onGarbage.clear(ev.kv.key);
    return { node: k.node, deleted: { lease: prev.lease, ...(rec ? { record: rec } : {}), ...(revision ? { revision } : {}) } };
  }

  // A conditions or maintenance record gone (deleted, or replaced by garbage).
  private forget(kind: 'conditions' | 'maintenance', node: string, tell: boolean): void {
    if (kind === 'conditions') {
      const before = this.conditions.get(node);
      this.conditions.delete(node);
      if (tell && before) this.changes.conditions?.(node, before, undefined);
    } else {
      const before = this.maintenance.get(node);
      this.maintenance.delete(node);
      if (tell && before) this.changes.maintenance?.(node, before, undefined);
    }
  }

  private put(kv: KeyValue, tell: boolean): void {
    const k = this.keys.parse(kv.key);
    if (k.kind === 'unknown') {
      this.onGarbage.reject(new DecodeError(kv.key, 'not a key beacon writes'), kv);
    } else if (k.kind === 'live') {
      // Kept even when unreadable: the key's presence (and etcd's lease on it) still says "registered".
      const record = this.decodeLive(kv);
      this.live.set(k.node, { lease: kv.lease, modRevision: kv.modRevision, ...(record ? { record } : {}) });
    } else if (k.kind === 'identity') {
      const r = decodeKey(this.keys, kv);
      if (r instanceof DecodeError) {
        this.onGarbage.reject(r, kv);
        this.identity.delete(k.node);
        this.badIdentity.add(k.node);
      } else if (r?.kind === 'node-identity') {
        this.onGarbage.clear(kv.key);
        this.identity.set(k.node, r.record);
        this.badIdentity.delete(k.node);
      }
    } else {
      // Conditions and maintenance: kept for the node's history; usage for the status page; counted when they fail the schema.
      const r = decodeKey(this.keys, kv);
      if (r instanceof DecodeError) {
        this.onGarbage.reject(r, kv);
        if (k.kind === 'conditions' || k.kind === 'maintenance') this.forget(k.kind, k.node, false);
        if (k.kind === 'usage') this.usage.delete(k.node);
        return;
      }
      this.onGarbage.clear(kv.key);
      if (r?.kind === 'node-usage' && k.kind === 'usage') {
        this.usage.set(k.node, r.record);
      } else if (r?.kind === 'node-conditions' && k.kind === 'conditions') {
        const before = this.conditions.get(k.node);
        this.conditions.set(k.node, r.record);
        if (tell) this.changes.conditions?.(k.node, before, r.record);
      } else if (r?.kind === 'node-maintenance' && k.kind === 'maintenance') {
        const before = this.maintenance.get(k.node);
        this.maintenance.set(k.node, r.record);
        if (tell) this.changes.maintenance?.(k.node, before, r.record);
      }
    }
  }

  private decodeLive(kv: KeyValue): NodeRecord | undefined {
    const r = decodeKey(this.keys, kv);
    if (r instanceof DecodeError) {
      this.onGarbage.reject(r, kv);
      return undefined;
    }
    if (r?.kind !== 'node-live') return undefined;
    this.onGarbage.clear(kv.key);
    return r.record;
  }
}

// Records of a listing are new objects: compared by value.
function same(a: object | undefined, b: object | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}
