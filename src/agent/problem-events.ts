// Node problem events to etcd: `<prefix>/v1/events/<node>/<id>`, under an events lease of their own so
// they expire by themselves (and outlive the node lease long enough to be read after a failure).
//
// One rotating retention lease (src/etcd/retention-lease.ts), replaced every quarter of retention: every
// event stays at least `retention` and at most 1.25 × retention, at most five leases exist at once, and a
// flood costs no lease per event. An updated event (same id, higher count) is rewritten under the current lease.
// Writes are batched (one transaction per monitor flush) and retried with backoff while etcd is away;
// what waits is bounded (newest kept per id, oldest ids dropped past the cap).
import type { Logger } from 'pino';
import type { Keys } from '../etcd/keys.js';
import type { Store } from '../etcd/store.js';
import { RetentionLease } from '../etcd/retention-lease.js';
import { encode } from '../registry/codec.js';
import type { ProblemEvent } from '../problems/types.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { eventRecord } from './records.js';

/** Options of EventLog. */
export interface EventLogOptions {
  store: Store;
  keys: Keys;
  node: string;
  /** Every event stays at least this long (ms, whole seconds). */
  retentionMs: number;
  log: Logger;
  /** Events waiting while etcd is away (default 256: the monitor's own table size). */
  maxPending?: number;
  now?: () => number;
}

/** Counters for tests and benchmarks. */
export interface EventLogStats {
  /** Transactions that wrote events. */
  writes: number;
  /** Event puts in those transactions. */
  puts: number;
  /** Leases granted. */
  leases: number;
  /** Events dropped because too many were waiting. */
  dropped: number;
}

/** Writes node problem events under a rotating events lease. */
export class EventLog {
  private readonly pending = new Map<string, ProblemEvent>();
  private readonly wakeup = new Wakeup();
  private readonly lease: RetentionLease;
  private readonly counters: EventLogStats = { writes: 0, puts: 0, leases: 0, dropped: 0 };
  private readonly log: Logger;

  constructor(private readonly options: EventLogOptions) {
    this.log = options.log.child({ component: 'events' });
    this.lease = new RetentionLease(options.store, {
      retentionMs: options.retentionMs,
      renewEveryMs: options.retentionMs / 4,
      onGrant: (lease, ttl) => this.log.info({ lease, ttl }, 'events lease granted'),
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** The lease TTL in seconds: retention plus the quarter during which the lease takes new events. */
  get leaseTtlSeconds(): number {
    return this.lease.ttlSeconds;
  }

  /** Queue events for writing (LogMonitor's onEvents); a newer count of the same id replaces the older. */
  add(events: readonly ProblemEvent[]): void {
    for (const e of events) {
      this.pending.delete(e.id);
      this.pending.set(e.id, e);
    }
    const max = this.options.maxPending ?? 256;
    while (this.pending.size > max) {
      this.pending.delete(this.pending.keys().next().value!);
      this.counters.dropped++;
    }
    if (events.length > 0) this.wakeup.wake();
  }

  /** Counters (see EventLogStats). */
  stats(): EventLogStats {
    return { ...this.counters, leases: this.lease.grants };
  }

  /** Write what is queued until `signal` aborts; then one last attempt for what is still waiting. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(1_000, 30_000);
    let failing = false;
    while (!signal.aborted) {
      if (this.pending.size === 0) {
        await this.wakeup.wait(60_000, signal);
        continue;
      }
      try {
        await this.flush();
        if (failing) this.log.info('events written again');
        failing = false;
        backoff.reset();
      } catch (err) {
        if (!failing) this.log.warn({ err, waiting: this.pending.size }, 'events not written; retrying');
        failing = true;
        await sleep(backoff.next(), signal);
      }
    }
    if (this.pending.size > 0) {
      await this.flush().catch((err: unknown) => this.log.warn({ err, lost: this.pending.size }, 'events not written at shutdown'));
    }
  }

  // Write everything waiting in one transaction under the current lease.
  private async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    try {
      // Revoked by hand, or etcd's lease state lost: written again under a new lease.
      await this.lease.use((lease) => this.put(batch, lease));
    } catch (err) {
      // Put back what no newer report replaced meanwhile, oldest first.
      const newer = new Map(this.pending);
      this.pending.clear();
      for (const e of batch) if (!newer.has(e.id)) this.pending.set(e.id, e);
      for (const [id, e] of newer) this.pending.set(id, e);
      throw err;
    }
  }

  private async put(batch: ProblemEvent[], lease: string): Promise<void> {
    const { store, keys, node } = this.options;
    const puts = batch.map((e) => ({ put: keys.event(node, e.id), value: encode(eventRecord(node, e)), lease }));
    await store.txn([{ key: puts[0]!.put, target: 'Version', op: '>', value: -1 }], puts);
    this.counters.writes++;
    this.counters.puts += puts.length;
    this.log.debug({ events: puts.length, lease }, 'events written');
  }
}
