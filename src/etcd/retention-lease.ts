// A rotating retention lease: records that must expire by themselves after `retention` (node problem
// events, the watcher's events and finished reactions) go under one lease at a time, never kept alive,
// instead of one lease per record. A lease takes new records for `renewEveryMs` after its grant and is
// then replaced; its TTL is retention + renewEveryMs, so every record stays at least `retention` and at
// most that much longer, and at most retention / renewEveryMs + 1 leases exist at once.
import { EtcdUnavailableError, LeaseLostError } from '../errors.js';
import type { Store } from './store.js';

/** Options of a RetentionLease. */
export interface RetentionLeaseOptions {
  /** Every record stays at least this long (ms). */
  retentionMs: number;
  /** How long one lease takes new records (ms). */
  renewEveryMs: number;
  /** Told of each grant (the owner logs it in its own words). */
  onGrant?(lease: string, ttl: number): void;
  /** Told when a lease was found gone (revoked by hand, or etcd lost it) before a new one is granted. */
  onLost?(lease: string): void;
  now?: () => number;
}

/** The current retention lease, granted when due; concurrent callers share one grant. */
export class RetentionLease {
  private lease: { id: string; useUntil: number } | undefined;
  private granting: Promise<string> | undefined;
  private readonly now: () => number;
  /** Leases granted. */
  grants = 0;

  constructor(
    private readonly store: Pick<Store, 'grant'>,
    private readonly opts: RetentionLeaseOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The TTL a lease is granted with, in whole seconds. */
  get ttlSeconds(): number {
    return Math.ceil((this.opts.retentionMs + this.opts.renewEveryMs) / 1000);
  }

  /** Run `fn` with the current lease; if etcd says the lease is gone, once more with a new one. */
  async use<T>(fn: (lease: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const lease = await this.current();
      try {
        return await fn(lease);
      } catch (err) {
        if (!(err instanceof LeaseLostError) || attempt > 0) throw err;
        this.opts.onLost?.(lease);
        if (this.lease?.id === lease) this.lease = undefined;
      }
    }
  }

  /** The lease to write with now: the current one while it takes records, else a new grant. */
  current(): Promise<string> {
    if (this.lease && this.now() < this.lease.useUntil) return Promise.resolve(this.lease.id);
    // Several writers at once (the leader recording several nodes) share one grant.
    this.granting ??= this.grant().finally(() => (this.granting = undefined));
    return this.granting;
  }

  private async grant(): Promise<string> {
    const at = this.now();
    const g = await this.store.grant(this.ttlSeconds);
    if (g.ttl <= 0) throw new EtcdUnavailableError('retention lease not granted');
    this.grants++;
    this.lease = { id: g.id, useUntil: at + this.opts.renewEveryMs };
    this.opts.onGrant?.(g.id, g.ttl);
    return g.id;
  }
}
