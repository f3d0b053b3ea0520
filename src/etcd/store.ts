// Store: the small etcd surface the rest of beacon uses (KV, transactions, leases, watches).
// Everything above this file speaks strings, hex lease ids and beacon's own errors.
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, ILeaseKeepAliveResponse, IRangeResponse, IRequestOp, IOperation, Watcher } from 'etcd3';
import type { EtcdConfig } from './options.js';
import { EtcdMessageTooLargeError, InvalidLeaseIdError } from '../errors.js';
import { createClient, type ClientTuning } from './client.js';
import { call, translate } from './errors.js';

/** One key-value pair as read from etcd. */
export interface KeyValue {
  key: string;
  value: Buffer;
  createRevision: string;
  modRevision: string;
  version: string;
  /** Lease id in hex ('' when the key has no lease). */
  lease: string;
  /** The value was too large to read; value is empty. */
  tooLarge?: true;
}

/** A prefix listing and the revision it was read at (watch from revision + 1). */
export interface Listing {
  revision: string;
  kvs: KeyValue[];
}

/** One condition of a transaction. */
export interface Compare {
  key: string;
  target: 'Version' | 'Create' | 'Mod' | 'Value' | 'Lease';
  op: '==' | '!=' | '<' | '>';
  value: string | number;
}

/** One operation of a transaction; a `lease` is a hex id. */
export type TxnOp =
  | { put: string; value: string; lease?: string }
  | { delete: string }
  | { deletePrefix: string }
  | { get: string };

/** Result of a transaction: which branch ran, and the values of its `get` ops in order. */
export interface TxnResult {
  succeeded: boolean;
  revision: string;
  gets: (KeyValue | undefined)[];
}

/** One member of the cluster, as `etcdctl member list` shows it (id in hex). */
export interface Member {
  id: string;
  /** Empty for a member that was added but has not started. */
  name: string;
  clientURLs: string[];
  peerURLs: string[];
}

/** A granted lease. */
export interface Grant {
  id: string;
  /** TTL etcd actually granted, seconds (may exceed the request: etcd's minimum is 2 s). */
  ttl: number;
}

/** One change seen by a watch. */
export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
  /** The value before this change (requested with prevKV); absent when etcd had none. */
  prev?: KeyValue;
}

/** Hex (as etcdctl prints it) from etcd3's decimal lease id string. */
export function leaseToHex(id: string | number): string {
  const n = BigInt(id);
  return n === 0n ? '' : n.toString(16).padStart(16, '0');
}

/**
 * etcd3's decimal lease id from hex. Throws InvalidLeaseIdError (not retryable) for anything but 1 to 16
 * hex digits: ids come back from records in etcd, which may hold anything.
 */
export function leaseFromHex(hex: string): string {
  if (typeof hex !== 'string' || !LEASE_HEX.test(hex)) throw new InvalidLeaseIdError(hex);
  return BigInt(`0x${hex}`).toString(10);
}

const LEASE_HEX = /^[0-9a-fA-F]{1,16}$/;

// Keys per list request while pages fit: beacon's records are a few KiB, so 1,000 of them are a few MiB.
// A page over the receive limit (values up to etcd's request limit each) is read again with half as many
// keys, down to one; pages grow back by doubling after each page that fits.
const LIST_PAGE = 1_000;

// The range end of a prefix: the prefix with its last byte below 0xff incremented (etcd's convention).
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function toKv(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value,
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: leaseToHex(kv.lease || '0'),
  };
}

/**
 * A live watch on a prefix. Events:
 * - `event` (WatchEvent): each change, in revision order.
 * - `disconnected` (Error): the stream broke; etcd3 reconnects by itself, but may skip events.
 * - `connected`: the stream is (re)established; after a disconnect the owner should re-list.
 * - `error` (Error): the watch is dead (for example its revision was compacted): re-list and watch again.
 */
export class PrefixWatch extends EventEmitter {
  constructor(private readonly watcher: Watcher) {
    super();
    watcher.on('put', (kv, prev) => this.emit('event', { type: 'put', kv: toKv(kv), prev: prev && toKv(prev) }));
    watcher.on('delete', (kv, prev) =>
      this.emit('event', { type: 'delete', kv: toKv(kv), prev: prev && toKv(prev) }),
    );
    watcher.on('disconnected', (err) => this.emit('disconnected', translate(err, 'watch')));
    watcher.on('connected', () => this.emit('connected'));
    watcher.on('error', (err) => this.emit('error', translate(err, 'watch')));
  }

  /** Stop watching and release the stream. */
  async cancel(): Promise<void> {
    // etcd3's cancel() never settles for a watch that etcd already cancelled (e.g. compacted):
    // bound the wait, the stream is gone either way.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.watcher.cancel().catch(() => undefined),
      new Promise<void>((r) => (timer = setTimeout(r, 500))),
    ]);
    clearTimeout(timer);
    this.removeAllListeners();
    this.on('error', () => undefined); // late errors from a dying stream are not ours to throw
  }
}

/** beacon's handle on etcd. Create with `Store.connect`, release with `close`. */
export class Store {
  private constructor(
    private readonly client: Etcd3,
    readonly requestTimeoutMs: number,
  ) {}

  /** A store for a config; connects lazily on the first call. */
  static connect(cfg: EtcdConfig, tuning: ClientTuning = {}): Store {
    return new Store(createClient(cfg, tuning), cfg.requestTimeoutMs);
  }

  /** Release the connection (pending calls fail). */
  close(): void {
    this.client.close();
  }

  /** Read one key. */
  async get(key: string): Promise<KeyValue | undefined> {
    const res = await call(`get ${key}`, () => this.client.get(key).exec());
    const kv = res.kvs[0];
    return kv ? toKv(kv) : undefined;
  }

  /**
   * Read every key under a prefix, with the revision of the read. Paged, every page at the first page's
   * revision, so the result is one snapshot (one response for 10,000 nodes is ~8.6 MB). A page too large to
   * receive is read again with half as many keys; a single key whose value alone is too large comes back
   * by name, `tooLarge` with an empty value (a keys-only read), so that one record, which any node may
   * write under its own prefix, cannot hide every other.
   */
  async list(prefix: string): Promise<Listing> {
    const end = prefixEnd(Buffer.from(prefix));
    const kvs: KeyValue[] = [];
    let start = Buffer.from(prefix);
    let revision: string | undefined;
    let limit = LIST_PAGE;
    for (;;) {
      let page: IRangeResponse;
      try {
        page = await this.range(prefix, { key: start, range_end: end, limit, revision: revision ?? 0 });
      } catch (err) {
        if (!(err instanceof EtcdMessageTooLargeError)) throw err;
        if (limit > 1) {
          limit = Math.max(1, Math.floor(limit / 2));
          continue;
        }
        // One key, and its value alone is over the limit: learn its name and metadata without the value.
        page = await this.range(prefix, { key: start, range_end: end, limit: 1, revision: revision ?? 0, keys_only: true });
        revision ??= page.header.revision;
        const kv = page.kvs[0];
        if (!kv) return { revision, kvs };
        kvs.push({ ...toKv(kv), value: Buffer.alloc(0), tooLarge: true });
        start = Buffer.concat([kv.key, Buffer.from([0])]);
        continue;
      }
      revision ??= page.header.revision;
      for (const kv of page.kvs) kvs.push(toKv(kv));
      if (!page.more || page.kvs.length === 0) return { revision, kvs };
      start = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
      limit = Math.min(LIST_PAGE, limit * 2);
    }
  }

  // One range read (revision 0: the current one).
  private range(prefix: string, req: { key: Buffer; range_end: Buffer; limit: number; revision: string | number; keys_only?: boolean }): Promise<IRangeResponse> {
    return call(`list ${prefix}`, () => this.client.kv.range(req));
  }

  /** Read several keys in one round trip (a read-only transaction: no revision, no write). */
  async getMany(keys: string[]): Promise<{ revision: string; kvs: (KeyValue | undefined)[] }> {
    if (keys.length === 0) return { revision: '0', kvs: [] };
    const r = await this.txn([{ key: keys[0]!, target: 'Version', op: '>', value: -1 }], keys.map((k) => ({ get: k })));
    return { revision: r.revision, kvs: r.gets };
  }

  /** Write one key, optionally bound to a lease (hex). Returns the new revision. */
  async put(key: string, value: string, lease?: string): Promise<string> {
    const res = await call(`put ${key}`, () => {
      const b = this.client.put(key).value(value);
      return (lease ? b.lease(leaseFromHex(lease)) : b).exec();
    });
    return res.header.revision;
  }

  /** Delete one key; resolves whether it existed. */
  async delete(key: string): Promise<boolean> {
    const res = await call(`delete ${key}`, () => this.client.delete().key(key).exec());
    return Number(res.deleted) > 0;
  }

  /** Run `then` if every compare holds, else `otherwise`, atomically. */
  async txn(compares: Compare[], then: TxnOp[], otherwise: TxnOp[] = []): Promise<TxnResult> {
    const res = await call('txn', () => {
      let b = this.client.if(compares[0]!.key, compares[0]!.target, compares[0]!.op, compares[0]!.value);
      for (const c of compares.slice(1)) b = b.and(c.key, c.target, c.op, c.value);
      return b
        .then(...then.map((op) => this.op(op)))
        .else(...otherwise.map((op) => this.op(op)))
        .commit();
    });
    const ops = res.succeeded ? then : otherwise;
    const gets: (KeyValue | undefined)[] = [];
    res.responses.forEach((r, i) => {
      if ('get' in ops[i]!) {
        const kv = r.response_range?.kvs[0];
        gets.push(kv ? toKv(kv) : undefined);
      }
    });
    return { succeeded: res.succeeded, revision: res.header.revision, gets };
  }

  private op(op: TxnOp): IRequestOp | IOperation {
    if ('put' in op) {
      const b = this.client.put(op.put).value(op.value);
      return op.lease ? b.lease(leaseFromHex(op.lease)) : b;
    }
    if ('delete' in op) return this.client.delete().key(op.delete);
    if ('deletePrefix' in op) return this.client.delete().prefix(op.deletePrefix);
    return this.client.get(op.get);
  }

  /** Grant a lease; reads back the TTL etcd really granted. */
  async grant(ttl: number): Promise<Grant> {
    const res = await call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }));
    return { id: leaseToHex(res.ID), ttl: Number(res.TTL) };
  }

  /**
   * One keepalive with its own deadline. Resolves the remaining TTL in seconds: 0 means the
   * lease is gone on the server. Rejects (EtcdUnavailableError) when etcd does not answer in time.
   */
  async keepAliveOnce(lease: string, timeoutMs: number): Promise<number> {
    return this.keepAliveOne(lease, timeoutMs, (res) => Number(res.TTL));
  }

  /** Revoke a lease (deletes its keys); a lease that is already gone is not an error. */
  async revoke(lease: string): Promise<void> {
    try {
      await call('lease revoke', () => this.client.leaseClient.leaseRevoke({ ID: leaseFromHex(lease) }));
    } catch (err) {
      if ((err as Error).name !== 'LeaseLostError') throw err;
    }
  }

  /** Remaining and granted TTL of a lease (-1 remaining when it is gone). */
  async timeToLive(lease: string): Promise<{ ttl: number; grantedTtl: number }> {
    const res = await call('lease timetolive', () =>
      this.client.leaseClient.leaseTimeToLive({ ID: leaseFromHex(lease), keys: false }),
    );
    return { ttl: Number(res.TTL), grantedTtl: Number(res.grantedTTL) };
  }

  /** How many keys a prefix holds, and the revision of the read (a count-only read: no key or value crosses the wire). */
  async count(prefix: string): Promise<{ count: number; revision: string }> {
    const p = Buffer.from(prefix);
    const res = await call(`count ${prefix}`, () => this.client.kv.range({ key: p, range_end: prefixEnd(p), count_only: true }));
    return { count: Number(res.count), revision: res.header.revision };
  }

  /**
   * Watch a prefix from a revision (inclusive), with previous values. With `ownStream` the watch gets a
   * gRPC stream of its own instead of sharing the client's one: etcd3 keeps every watch of a client on a
   * single stream, so a watch re-created after its stream went silent (a hung member) would otherwise
   * land on that same silent stream again.
   */
  async watch(prefix: string, fromRevision: string, opts: { ownStream?: boolean } = {}): Promise<PrefixWatch> {
    // A namespace with no prefix reads the same keys and has a watch manager (one stream) of its own.
    const via = opts.ownStream ? this.client.namespace('') : this.client;
    const w = await call(`watch ${prefix}`, () => via.watch().prefix(prefix).startRevision(fromRevision).withPreviousKV().create());
    return new PrefixWatch(w);
  }

  /** Watch several exact keys on one stream each (etcd3 multiplexes them on one gRPC stream). */
  async watchKey(key: string, fromRevision: string): Promise<PrefixWatch> {
    const w = await call(`watch ${key}`, () =>
      this.client.watch().key(key).startRevision(fromRevision).withPreviousKV().create(),
    );
    return new PrefixWatch(w);
  }
  /**
   * One keepalive, like keepAliveOnce, that also says which raft term the answering member is in: a term
   * that went up means etcd changed leader (the watcher's witness leases read it; see src/watcher/witness.ts).
   */
  async keepAliveTerm(lease: string, timeoutMs: number): Promise<{ ttl: number; raftTerm: string; member: string }> {
    return this.keepAliveOne(lease, timeoutMs, (res) => ({
      ttl: Number(res.TTL),
      raftTerm: String(res.header?.raft_term ?? '0'),
      member: String(res.header?.member_id ?? ''),
    }));
  }

  /**
   * One keepalive on a stream of its own, answered within `timeoutMs` or cancelled. The deadline is our
   * timer, not gRPC's: on a busy host the event loop stalls, and when it runs again its expired timers
   * fire before its sockets are read, so gRPC's deadline would cancel a call whose answer has already
   * arrived (and a renewal etcd made would count as a failure: a lease given up while etcd kept it). When
   * our timer fires, one poll turn (setImmediate) lets what has arrived be read first.
   */
  private keepAliveOne<T>(lease: string, timeoutMs: number, read: (res: ILeaseKeepAliveResponse) => T): Promise<T> {
    const id = leaseFromHex(lease);
    return call('lease keepalive', async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      let answered = false;
      try {
        return await new Promise<T>((resolve, reject) => {
          let late: NodeJS.Immediate | undefined;
          const timer = setTimeout(() => (late = setImmediate(() => reject(new Error('keepalive deadline exceeded')))), timeoutMs);
          const settle = () => {
            clearTimeout(timer);
            if (late) clearImmediate(late);
          };
          stream.on('data', (res) => {
            settle();
            answered = true;
            resolve(read(res));
          });
          stream.on('error', (err) => {
            settle();
            reject(err);
          });
          stream.write({ ID: id });
        });
      } finally {
        // Late errors from a cancelled stream must not become unhandled 'error' events.
        stream.on('error', () => undefined);
        // Answered: close our side. Not answered (a hung member never will): cancel, so nothing stays open.
        if (answered) stream.end();
        else stream.cancel();
      }
    });
  }

  /**
   * Grant a lease under an id the caller chose (hex, non-zero): a grant whose answer comes after the
   * caller gave up can then still be revoked (or taken over) by that id. Rejects with LeaseExistsError
   * when etcd already holds the id.
   */
  async grantWithId(ttl: number, id: string): Promise<Grant> {
    const res = await call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: leaseFromHex(id) }));
    return { id: leaseToHex(res.ID), ttl: Number(res.TTL) };
  }

  /** The cluster's members (`etcdctl member list`). */
  async members(): Promise<Member[]> {
    const res = await call('member list', () => this.client.cluster.memberList({}));
    return res.members.map((m) => ({ id: BigInt(m.ID).toString(16), name: m.name, clientURLs: [...(m.clientURLs ?? [])], peerURLs: [...(m.peerURLs ?? [])] }));
  }
}
