// The leader's record keeper: it loads and writes the node statuses, the events and the reactions'
// progress (src/watcher/records.ts has their ids and decoders). Every write is a transaction that
// carries the election fence (so a deposed leader's late writes never land) and a compare on the record's
// mod revision (so each step happens once). Events and finished reactions go under one rotating retention
// lease (src/etcd/retention-lease.ts), replaced every tenth of retention: they expire after `retention`,
// with no lease per event.
import type { Logger } from 'pino';
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { Compare, KeyValue, Store, TxnOp } from '../etcd/store.js';
import { RetentionLease } from '../etcd/retention-lease.js';
import type { Election } from './election.js';
import {
  decodeEvent,
  decodeReaction,
  decodeStatus,
  type HookOutcome,
  type NodeEvent,
  type ReactionRecord,
  type StatusRecord,
} from './records.js';

/** A record with the mod revision it was read or written at ('0': absent). */
export interface Versioned<T> {
  record: T;
  modRevision: string;
}

/** How a guarded write went. */
export type WriteResult =
  | { ok: true; revision: string }
  | { ok: false; why: 'conflict' | 'not-leader'; current?: KeyValue };

/**
 * What one transaction records: a node's new status (if its status is still at `statusMod`), the events
 * the change raises and their reactions. An event about no one node (PartitionSuspected) has no node.
 */
export interface TransitionWrite {
  node?: string;
  statusMod: string;
  status?: StatusRecord;
  events: NodeEvent[];
  reactions: ReactionRecord[];
}

/** One node's transition to a new status: the kind that several can share a transaction. */
export interface Transition extends TransitionWrite {
  node: string;
  status: StatusRecord;
}

/** Called for stored watcher records that do not decode. */
export type RecordGarbage = (err: DecodeError, kv: KeyValue) => void;

/** The leader's record keeper. */
export class RecordKeeper {
  private readonly retention: RetentionLease;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly election: Election,
    retentionMs: number,
    private readonly onGarbage: RecordGarbage,
    private readonly log: Logger,
  ) {
    this.retention = new RetentionLease(store, {
      retentionMs,
      renewEveryMs: Math.max(1_000, Math.floor(retentionMs / 10)),
      onGrant: (lease, ttl) => this.log.debug({ lease, ttl }, 'retention lease granted'),
      onLost: (lease) => this.log.info({ lease }, 'retention lease gone; granting a new one'),
    });
  }

  /** Every status record, by node. */
  async loadStatuses(): Promise<Map<string, Versioned<StatusRecord>>> {
    const { kvs } = await this.store.list(this.keys.statuses);
    const out = new Map<string, Versioned<StatusRecord>>();
    for (const kv of kvs) {
      const k = this.keys.parse(kv.key);
      if (k.kind !== 'status') continue;
      const r = decodeStatus(kv);
      if (r instanceof DecodeError) this.onGarbage(r, kv);
      else if (r.node !== k.node) this.onGarbage(new DecodeError(kv.key, 'node does not match key'), kv);
      else out.set(k.node, { record: r, modRevision: kv.modRevision });
    }
    return out;
  }

  /** One node's status record as etcd has it now. */
  async loadStatus(node: string): Promise<Versioned<StatusRecord> | undefined> {
    const kv = await this.store.get(this.keys.status(node));
    if (!kv) return undefined;
    const r = decodeStatus(kv);
    if (r instanceof DecodeError) {
      this.onGarbage(r, kv);
      return undefined;
    }
    return { record: r, modRevision: kv.modRevision };
  }

  /** Every reaction record. */
  async loadReactions(): Promise<Versioned<ReactionRecord>[]> {
    const { kvs } = await this.store.list(this.keys.reactions);
    const out: Versioned<ReactionRecord>[] = [];
    for (const kv of kvs) {
      const r = decodeReaction(kv);
      if (r instanceof DecodeError) this.onGarbage(r, kv);
      else out.push({ record: r, modRevision: kv.modRevision });
    }
    return out;
  }

  /**
   * Record a node's transition atomically: its new status (if the status is still at `statusMod`), the
   * events it raises (retention lease) and their reactions, pending (no lease: they must not vanish).
   */
  async recordTransition({ node, statusMod, status, events, reactions }: TransitionWrite): Promise<WriteResult> {
    const statusKey = node === undefined ? undefined : this.keys.status(node);
    return this.withRetentionLease(async (lease) => {
      const compares: Compare[] = [this.election.fence()];
      if (statusKey) compares.push({ key: statusKey, target: 'Mod', op: '==', value: statusMod });
      const ops: TxnOp[] = [];
      if (statusKey && status) ops.push({ put: statusKey, value: JSON.stringify(status) });
      for (const e of events) ops.push({ put: this.keys.watcherEvent(e.id), value: JSON.stringify(e), lease });
      for (const r of reactions) ops.push({ put: this.keys.reaction(r.id), value: JSON.stringify(r) });
      return this.guarded(compares, ops, statusKey);
    });
  }

  /**
   * Record several nodes' transitions in one transaction, all or nothing: every status must still be at
   * its `statusMod` (a refusal says only that one was not: record them one by one then).
   */
  async recordTransitions(items: Transition[]): Promise<WriteResult> {
    return this.withRetentionLease(async (lease) => {
      const compares: Compare[] = [this.election.fence()];
      const ops: TxnOp[] = [];
      for (const it of items) {
        const key = this.keys.status(it.node);
        compares.push({ key, target: 'Mod', op: '==', value: it.statusMod });
        ops.push({ put: key, value: JSON.stringify(it.status) });
        for (const e of it.events) ops.push({ put: this.keys.watcherEvent(e.id), value: JSON.stringify(e), lease });
        for (const r of it.reactions) ops.push({ put: this.keys.reaction(r.id), value: JSON.stringify(r) });
      }
      return this.guarded(compares, ops, undefined);
    });
  }

  /** Advance a reaction if it is still at `mod`; final states go under the retention lease. */
  async updateReaction(rec: ReactionRecord, mod: string, final: boolean): Promise<WriteResult> {
    const key = this.keys.reaction(rec.id);
    const write = async (lease?: string) =>
      this.guarded(
        [this.election.fence(), { key, target: 'Mod', op: '==', value: mod }],
        [{ put: key, value: JSON.stringify(rec), ...(lease ? { lease } : {}) }],
        key,
      );
    return final ? this.withRetentionLease(write) : write();
  }

  /** Copy a hook's outcome into its event record (best effort: the reaction record is the authority). */
  async noteOutcome(eventId: string, hook: string, outcome: HookOutcome): Promise<void> {
    const key = this.keys.watcherEvent(eventId);
    for (let i = 0; i < 5; i++) {
      const kv = await this.store.get(key);
      if (!kv) return; // expired, or never written (a record from an older leader)
      const ev = decodeEvent(kv);
      if (ev instanceof DecodeError) return this.onGarbage(ev, kv);
      ev.hooks = { ...ev.hooks, [hook]: outcome };
      const res = await this.guarded(
        [this.election.fence(), { key, target: 'Mod', op: '==', value: kv.modRevision }],
        [{ put: key, value: JSON.stringify(ev), ...(kv.lease ? { lease: kv.lease } : {}) }],
        key,
      );
      if (res.ok || res.why === 'not-leader') return;
    }
    this.log.warn({ eventId, hook }, 'hook outcome not copied into the event after 5 tries');
  }

  private async guarded(compares: Compare[], ops: TxnOp[], watchedKey: string | undefined): Promise<WriteResult> {
    const res = await this.store.txn(compares, ops, [
      { get: this.election.key },
      ...(watchedKey ? [{ get: watchedKey }] : []),
    ]);
    if (res.succeeded) return { ok: true, revision: res.revision };
    const fence = res.gets[0];
    const leaseHex = this.election.leaseId;
    if (!fence || fence.lease !== leaseHex) return { ok: false, why: 'not-leader' };
    return { ok: false, why: 'conflict', ...(res.gets[1] ? { current: res.gets[1] } : {}) };
  }

  // Run `fn` with the current retention lease; re-grant when it is due or gone (once per call).
  private withRetentionLease<T>(fn: (lease: string) => Promise<T>): Promise<T> {
    return this.retention.use(fn);
  }
}
