// The watcher's copy of the node keys: live records and identities, rebuilt from a listing and kept
// current from the watch. Undecodable values are counted and kept as "present but unreadable", so
// garbage can neither invent nor hide a node.
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, WatchEvent } from '../etcd/store.js';
import { decodeIdentity, decodeNode } from '../registry/codec.js';
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

/** Called for each value that cannot be decoded. */
export type GarbageSink = (err: DecodeError, kv: KeyValue) => void;

/** Live records and identities by node name. */
export class NodeModel {
  readonly live = new Map<string, LiveEntry>();
  readonly identity = new Map<string, NodeIdentity>();
  /** Nodes whose identity key exists but does not decode (so "no identity" is not assumed). */
  readonly badIdentity = new Set<string>();

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
    for (const kv of kvs) this.put(kv);
    return new Set([...before, ...this.names()]);
  }

  /** Apply one watch event; returns the node it touched, if it is a node key beacon knows. */
  apply(ev: WatchEvent): Touched | undefined {
    const k = this.keys.parse(ev.kv.key);
    if (k.kind === 'unknown' && ev.type === 'put') this.onGarbage(new DecodeError(ev.kv.key, 'not a key beacon writes'), ev.kv);
    if (k.kind !== 'live' && k.kind !== 'identity') return undefined;
    if (ev.type === 'put') {
      this.put(ev.kv);
      return { node: k.node };
    }
    if (k.kind === 'identity') {
      this.identity.delete(k.node);
      this.badIdentity.delete(k.node);
      return { node: k.node };
    }
    this.live.delete(k.node);
    const prev = ev.prev;
    if (!prev) return { node: k.node, deleted: { lease: '' } };
    const rec = this.decodeLive(prev, k.node);
    return { node: k.node, deleted: { lease: prev.lease, ...(rec ? { record: rec } : {}) } };
  }

  private put(kv: KeyValue): void {
    const k = this.keys.parse(kv.key);
    if (k.kind === 'unknown') {
      this.onGarbage(new DecodeError(kv.key, 'not a key beacon writes'), kv);
    } else if (k.kind === 'live') {
      const record = this.decodeLive(kv, k.node);
      this.live.set(k.node, { lease: kv.lease, modRevision: kv.modRevision, ...(record ? { record } : {}) });
    } else if (k.kind === 'identity') {
      const r = decodeIdentity(kv);
      if (r instanceof DecodeError) {
        this.onGarbage(r, kv);
        this.identity.delete(k.node);
        this.badIdentity.add(k.node);
      } else {
        this.identity.set(k.node, r);
        this.badIdentity.delete(k.node);
      }
    }
  }

  private decodeLive(kv: KeyValue, node: string): NodeRecord | undefined {
    const r = decodeNode(kv);
    if (r instanceof DecodeError) {
      this.onGarbage(r, kv);
      return undefined;
    }
    if (r.name !== node) {
      this.onGarbage(new DecodeError(kv.key, `name ${JSON.stringify(r.name)} does not match key`), kv);
      return undefined;
    }
    return r;
  }
}
