// The lease audit: the leader's own check that etcd revokes the leases of nodes it sees up.
// etcd 3.4.23 occasionally leaves an expired lease, and the keys bound to it, in place for many seconds
// (about 2 crashed holders in 130; etcd-io/etcd#9935, #10686, #13019, #14019, #20273): no DELETE
// reaches the watch, and a dead node would stay "up". So the leader asks `lease timetolive` for each
// such lease at the first moment it could be overdue, and no sooner: the remaining TTL a reading gives
// is a promise that the lease lives at least that long, so a lease kept alive costs about one request
// per TTL. A lease found expired cannot be renewed any more (etcd refuses keepalives on an expired
// lease), so reporting its node failed is right whatever etcd does next.
import type { Logger } from 'pino';
import type { Store } from '../etcd/store.js';
import { sleep } from '../util/time.js';
import { deadline } from '../util/deadline.js';
import { TokenBucket } from './safety.js';

// etcd returns whole seconds, truncated: a reading of r means r ≤ remaining < r + 1. Its leader revokes
// expired leases every 500 ms; past that, and one more truncation second, a lease still there is overdue.
const TRUNCATION_MS = 1_000;
const REVOKE_LOOP_MS = 500;
// A lease first read at 0 (remaining in (-1, 1) s) is overdue if still ≤ 0 this long after: expired ≥ 1 s.
const ZERO_CONFIRM_MS = 2_000;
// An overdue reading is confirmed by a second one this long after (another member may answer it): a
// stopped etcd leader that resumes answers `timetolive` from its frozen view (every lease looks long
// expired) until it hears of the new leader, about one heartbeat later.
const CONFIRM_MS = 600;
// A lease read gone while the watch still shows its key is looked at again after this long (the DELETE
// may simply be on its way); still there then, the watch missed it.
const GONE_CONFIRM_MS = 1_000;
const REQUEST_TIMEOUT_MS = 1_000;
const MAX_IN_FLIGHT = 32;

/** One `lease timetolive` answer: remaining seconds (-1 and granted 0 when etcd has no such lease). */
export interface LeaseReading {
  ttl: number;
  grantedTtl: number;
}

/** Per lease: when to look next and what the last readings said. */
export interface AuditEntry {
  lease: string;
  /** When to read the lease next (ms since the epoch). */
  dueAt: number;
  /** When the lease was first read at TTL ≤ 0 with no renewal seen since. */
  zeroSince?: number;
  /** When the lease was first read gone while the watch still showed its key. */
  goneSince?: number;
  /** When a reading first said overdue (confirmed by the next one, CONFIRM_MS later). */
  overdueSince?: number;
}

/** What one reading means. */
export type AuditVerdict =
  | { kind: 'alive'; dueAt: number; zeroSince?: number }
  | { kind: 'overdue'; ttl: number }
  | { kind: 'confirm'; dueAt: number; overdueSince: number }
  | { kind: 'gone'; dueAt: number; goneSince: number }
  | { kind: 'missed-delete' };

/**
 * Judge one reading taken at `now`. Pure. `overdue`: the lease expired at least a second ago and etcd
 * still has it. `gone`: etcd has no such lease but the caller still saw its key: look again shortly;
 * `missed-delete` when that lasts (the watch never delivered the DELETE).
 */
export function judge(entry: AuditEntry, r: LeaseReading, now: number): AuditVerdict {
  const v = judgeOne(entry, r, now);
  if (v.kind !== 'overdue' || (entry.overdueSince !== undefined && now - entry.overdueSince >= CONFIRM_MS)) return v;
  const overdueSince = entry.overdueSince ?? now;
  return { kind: 'confirm', dueAt: overdueSince + CONFIRM_MS, overdueSince };
}

function judgeOne(entry: AuditEntry, r: LeaseReading, now: number): AuditVerdict {
  if (r.grantedTtl <= 0) {
    const goneSince = entry.goneSince ?? now;
    if (now - goneSince >= GONE_CONFIRM_MS) return { kind: 'missed-delete' };
    return { kind: 'gone', dueAt: now + GONE_CONFIRM_MS, goneSince };
  }
  if (r.ttl <= -1) return { kind: 'overdue', ttl: r.ttl };
  if (r.ttl === 0) {
    const zeroSince = entry.zeroSince ?? now;
    if (now - zeroSince >= ZERO_CONFIRM_MS) return { kind: 'overdue', ttl: r.ttl };
    return { kind: 'alive', dueAt: zeroSince + ZERO_CONFIRM_MS, zeroSince };
  }
  // Cannot expire before now + ttl s; etcd revokes within its loop after that.
  return { kind: 'alive', dueAt: now + r.ttl * 1000 + TRUNCATION_MS + REVOKE_LOOP_MS };
}

/** What the audit tells its owner. */
export interface AuditSink {
  /** The node's lease expired and etcd did not revoke it. */
  overdue(node: string, lease: string, ttl: number): void;
  /** etcd has had no such lease for a second while the audit still followed it (the owner checks its watch copy). */
  missedDelete(node: string, lease: string): void;
}

/** Options of the audit. */
export interface AuditOptions {
  /** At most this many `lease timetolive` requests per second (a large fleet is audited more slowly). */
  maxRate: number;
}

/** The leases of the nodes the leader sees up, each read when it could first be overdue. */
export class LeaseAudit {
  private readonly entries = new Map<string, AuditEntry>();
  private readonly bucket: TokenBucket;
  private wake: (() => void) | undefined;
  /** Requests sent so far (for the cost benchmark and metrics). */
  requests = 0;

  constructor(
    private readonly store: Pick<Store, 'timeToLive'>,
    private readonly opts: AuditOptions,
    private readonly sink: AuditSink,
    private readonly log: Logger,
  ) {
    this.bucket = new TokenBucket({ everyMs: 1000 / opts.maxRate, burst: Math.max(1, Math.ceil(opts.maxRate / 10)) }, Date.now());
  }

  /**
   * The node's current registration as the leader records it: its lease while up (first read after
   * `firstMs`, the node's TTL: a lease just seen written cannot be overdue sooner), or undefined once it
   * is no longer up (failed, left, forgotten).
   */
  observe(node: string, lease: string | undefined, firstMs: number): void {
    const cur = this.entries.get(node);
    if (!lease) {
      this.entries.delete(node);
      return;
    }
    if (cur?.lease === lease) return;
    this.entries.set(node, { lease, dueAt: Date.now() + firstMs + TRUNCATION_MS + REVOKE_LOOP_MS });
    this.wake?.();
  }

  /** Leases tracked now. */
  get size(): number {
    return this.entries.size;
  }

  /** Read due leases until `signal` aborts (the leadership term). */
  async run(signal: AbortSignal): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    while (!signal.aborted) {
      const now = Date.now();
      let nextDue = now + 1_000;
      for (const [node, e] of this.entries) {
        if (signal.aborted) break;
        if (e.dueAt > now) {
          nextDue = Math.min(nextDue, e.dueAt);
          continue;
        }
        if (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
        const t = this.bucket.take(Date.now());
        if (!t.ok) await sleep(t.waitMs, signal);
        if (signal.aborted) break;
        // Not due again until this reading is judged (a slow answer must not send a second request).
        e.dueAt = Number.POSITIVE_INFINITY;
        const p = this.check(node, e).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise<void>((resolve) => {
        // At least 100 ms between passes: a pass walks every tracked lease.
        const timer = setTimeout(done, Math.max(100, nextDue - Date.now()));
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
      this.wake = undefined;
    }
    await Promise.allSettled([...inFlight]);
  }

  private async check(node: string, e: AuditEntry): Promise<void> {
    let r: LeaseReading;
    this.requests++;
    try {
      r = await deadline(this.store.timeToLive(e.lease), REQUEST_TIMEOUT_MS, 'lease timetolive');
    } catch (err) {
      this.log.debug({ err, node }, 'lease audit read failed; retrying');
      if (this.entries.get(node) === e) e.dueAt = Date.now() + 500;
      return;
    }
    if (this.entries.get(node) !== e) return; // the node moved on meanwhile
    const now = Date.now();
    const v = judge(e, r, now);
    switch (v.kind) {
      case 'confirm':
        e.dueAt = v.dueAt;
        e.overdueSince = v.overdueSince;
        return;
      case 'alive':
        delete e.overdueSince;
        e.dueAt = v.dueAt;
        if (v.zeroSince === undefined) delete e.zeroSince;
        else e.zeroSince = v.zeroSince;
        delete e.goneSince;
        return;
      case 'gone':
        delete e.overdueSince;
        e.dueAt = v.dueAt;
        e.goneSince = v.goneSince;
        return;
      case 'overdue':
        this.entries.delete(node);
        this.log.warn({ node, lease: e.lease, ttl: r.ttl, grantedTtl: r.grantedTtl }, 'lease overdue: etcd did not revoke it');
        this.sink.overdue(node, e.lease, r.ttl);
        return;
      case 'missed-delete':
        this.entries.delete(node);
        this.log.warn({ node, lease: e.lease }, 'lease gone but the watch still shows its key');
        this.sink.missedDelete(node, e.lease);
        return;
    }
  }
}
