// The watcher's copy of the node keys: live records and identities, rebuilt from a listing and kept
// current from the watch. Values are decoded by the one codec (schema/v1/); what fails is counted and kept
// as "present but unreadable", so garbage can neither invent nor hide a node, nor reach an etcd call.
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, WatchEvent } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import type { ConditionsRecord, MaintenanceRecord } from '../agent/records.js';
import type { NodeIdentity, NodeRecord } from '../types.js';

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

/** Live records and identities by node name. */
export class NodeModel {
  readonly live = new Map<string, LiveEntry>();
  readonly identity = new Map<string, NodeIdentity>();
  /** Nodes whose identity key exists but does not decode (so "no identity" is not assumed). */
  readonly badIdentity = new Set<string>();
  /** Valid conditions and maintenance records by node (the status page shows them; decisions do not use them). */
  readonly conditions = new Map<string, ConditionsRecord>();
  readonly maintenance = new Map<string, MaintenanceRecord>();

  constructor(
    private readonly keys: Keys,
    private readonly onGarbage: GarbageSink,
  ) {}

  /** Every node name the model knows. */
  names(): Set<string> {
    return new Set([...this.live.keys(), ...this.identity.keys(), ...this.badIdentity]);
  }

  /** Replace everything with a listing; returns every node name before or after. */
  replace(kvs: KeyValue[]): Set<string> {
    const before = this.names();
    this.live.clear();
    this.identity.clear();
    this.badIdentity.clear();
    this.conditions.clear();
    this.maintenance.clear();
    this.onGarbage.clearAll?.();
    for (const kv of kvs) this.put(kv);
    return new Set([...before, ...this.names()]);
  }

  /** Apply one watch event; returns the node it touched, if it is a node key beacon knows. */
  apply(ev: WatchEvent): Touched | undefined {
    const k = this.keys.parse(ev.kv.key);
    if (ev.type === 'put') this.put(ev.kv);
    else {
      this.onGarbage.clear(ev.kv.key);
      if (k.kind === 'conditions') this.conditions.delete(k.node);
      else if (k.kind === 'maintenance') this.maintenance.delete(k.node);
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
    if (!prev) return { node: k.node, deleted: { lease: '' } };
    const rec = this.decodeLive(prev);
    this.onGarbage.clear(ev.kv.key);
    return { node: k.node, deleted: { lease: prev.lease, ...(rec ? { record: rec } : {}) } };
  }

  private put(kv: KeyValue): void {
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
      // Conditions and maintenance: kept for the status page only; counted when they fail the schema.
      const r = decodeKey(this.keys, kv);
      if (r instanceof DecodeError) {
        this.onGarbage.reject(r, kv);
        if (k.kind === 'conditions') this.conditions.delete(k.node);
        else if (k.kind === 'maintenance') this.maintenance.delete(k.node);
      } else {
        this.onGarbage.clear(kv.key);
        if (r?.kind === 'node-conditions') this.conditions.set(r.record.node, r.record);
        else if (r?.kind === 'node-maintenance') this.maintenance.set(r.record.node, r.record);
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
