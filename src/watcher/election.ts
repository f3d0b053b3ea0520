// Leader election among watchers, on etcd: each watcher puts `<election>/<id>` under its own lease; the key
// with the lowest create revision leads. A leader's writes carry a compare on its own key and lease (the
// fence): once its lease is gone, nothing it writes lands. The lease is kept by the same LeaseKeeper as the
// agent's registration (src/etcd/lease-keeper.ts): our own keepalives with their own deadline, because
// etcd3's keeper notices a hung etcd only late, and grants that back off and leave no orphan lease.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { LeaseLostError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import { LeaseKeeper, type LeaseTiming } from '../etcd/lease-keeper.js';
import { leaseFromHex, type Compare, type Grant, type PrefixWatch, type Store } from '../etcd/store.js';
import { Wakeup, sleep } from '../util/time.js';

/** Identity of one candidate, and its lease's timing (requested TTL in seconds, keepalive interval and deadline). */
export interface ElectionOptions extends LeaseTiming {
  id: string;
}

/**
 * Events:
 * - `elected` (lease: string): this watcher leads from now on.
 * - `deposed` (reason: string): it no longer leads (lease lost or past its deadline, key gone, shutdown).
 */
export class Election extends EventEmitter {
  private readonly keeper: LeaseKeeper;
  private get lease(): Grant | undefined {
    return this.keeper.lease;
  }
  private get deadline(): number {
    return this.keeper.deadline;
  }
  /** Why the last campaign failed (drives the keeper's backoff). */
  private lastError: unknown;
  private leading = false;
  private readonly wakeup = new Wakeup();
  private checkNeeded = false;
  private watch: PrefixWatch | undefined;
  private conflictLogged = false;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly opts: ElectionOptions,
    private readonly log: Logger,
  ) {
    super();
    this.keeper = new LeaseKeeper(store, opts, log);
  }

  /** This candidate's key. */
  get key(): string {
    return `${this.keys.election}${this.opts.id}`;
  }

  /** Whether this watcher leads right now (and its lease cannot have expired yet). */
  get isLeader(): boolean {
    return this.leading && Date.now() < this.deadline;
  }

  /** The election lease (hex) while campaigning. */
  get leaseId(): string | undefined {
    return this.lease?.id;
  }

  /** The compare every leader write carries: our key still exists under our lease. */
  fence(): Compare {
    if (!this.lease) throw new LeaseLostError('not campaigning');
    return { key: this.key, target: 'Lease', op: '==', value: leaseFromHex(this.lease.id) };
  }

  /** Campaign until `signal` aborts; then step down and revoke the lease so a standby takes over at once. */
  async run(signal: AbortSignal): Promise<void> {
    let nextKeepalive = 0;
    let nextCheck = 0;
    while (!signal.aborted) {
      if (!this.lease) {
        if (await this.campaign()) {
          nextKeepalive = Date.now() + this.opts.keepaliveIntervalMs;
          nextCheck = 0;
        } else {
          await sleep(this.conflictLogged ? this.opts.keepaliveIntervalMs : this.keeper.backoff.next(this.lastError), signal);
        }
        continue;
      }
      const now = Date.now();
      if (now >= this.deadline && this.leading) {
        // Step down, but keep the lease: etcd may still hold it (a new etcd leader restarts every lease's
        // TTL). If a later keepalive finds it alive, our key and its place in line are still ours.
        this.stepDown('election lease past its deadline: etcd unreachable for longer than the TTL');
      }
      if (now >= nextKeepalive) {
        nextKeepalive = await this.keepalive();
        continue;
      }
      if (now < this.deadline && (this.checkNeeded || now >= nextCheck)) {
        this.checkNeeded = false;
        try {
          await this.check();
          nextCheck = Date.now() + this.opts.keepaliveIntervalMs;
        } catch (err) {
          this.log.debug({ err }, 'election check failed');
          nextCheck = Date.now() + 200;
        }
        continue;
      }
      const wake = now < this.deadline ? Math.min(nextKeepalive, nextCheck, this.deadline) : nextKeepalive;
      await this.wakeup.wait(wake - now, signal);
    }
    const lease = this.lease;
    this.lose('shutdown', false);
    if (lease) await this.keeper.revoke(lease.id, this.opts.keepaliveTimeoutMs * 2).catch(() => undefined);
  }

  // Grant a lease and put our key, unless a live lease already holds this id.
  private async campaign(): Promise<boolean> {
    let grant: Grant;
    let sentAt: number;
    try {
      ({ grant, sentAt } = await this.keeper.grant());
    } catch (err) {
      this.lastError = err;
      this.log.debug({ err }, 'election lease not granted');
      return false;
    }
    try {
      const res = await this.store.txn(
        [{ key: this.key, target: 'Version', op: '==', value: 0 }],
        [{ put: this.key, value: JSON.stringify({ schema: 1, id: this.opts.id, pid: process.pid }), lease: grant.id }],
        [{ get: this.key }],
      );
      if (!res.succeeded) {
        await this.keeper.settle(grant.id);
        if (!this.conflictLogged) {
          this.conflictLogged = true;
          this.log.error({ id: this.opts.id, holderLease: res.gets[0]?.lease }, 'watcher id held by another live lease; waiting');
        }
        return false;
      }
      this.conflictLogged = false;
      this.keeper.hold(grant, sentAt);
      this.log.info({ id: this.opts.id, lease: grant.id, ttl: grant.ttl }, 'campaigning');
      await this.startWatch(res.revision);
      return true;
    } catch (err) {
      this.lastError = err;
      this.keeper.forget(grant.id);
      this.log.debug({ err }, 'campaign failed');
      return false;
    }
  }

  // Who leads: the candidate key with the lowest create revision.
  private async check(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const { kvs } = await this.store.list(this.keys.election);
    if (this.lease !== lease) return;
    const mine = kvs.find((kv) => kv.key === this.key);
    if (!mine || mine.lease !== lease.id) {
      this.lose('election key gone');
      return;
    }
    const first = kvs.reduce((a, b) => (BigInt(b.createRevision) < BigInt(a.createRevision) ? b : a));
    const leading = first.key === this.key;
    if (leading && !this.leading) {
      this.leading = true;
      this.log.info({ id: this.opts.id, lease: lease.id }, 'elected leader');
      this.emit('elected', lease.id);
    } else if (!leading && this.leading) {
      this.leading = false;
      this.log.warn({ id: this.opts.id, leader: first.key }, 'no longer leader');
      this.emit('deposed', 'another candidate leads');
    } else if (!leading) {
      this.log.debug({ leader: first.key }, 'standby');
    }
  }

  private async keepalive(): Promise<number> {
    const lease = this.lease!;
    const wasPastDeadline = Date.now() >= this.deadline;
    const r = await this.keeper.keepalive();
    if (this.lease !== lease) return 0;
    switch (r.kind) {
      case 'alive':
        if (wasPastDeadline) {
          this.log.info({ lease: lease.id }, 'election lease still alive after an outage');
          this.checkNeeded = true;
        }
        return r.next;
      case 'gone':
        this.lose('election lease not found on etcd');
        return 0;
      case 'failed':
        this.log.debug({ err: r.err }, 'election keepalive failed');
        return r.next;
      case 'expired':
        // Past the deadline the lease is kept (see run): etcd may still hold it. Keep asking.
        this.log.debug({ err: r.err }, 'election keepalive failed');
        return r.next;
    }
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.log.warn({ id: this.opts.id, reason }, 'stepping down');
    this.emit('deposed', reason);
  }

  private lose(reason: string, logIt = true): void {
    const wasLeading = this.leading;
    this.leading = false;
    this.keeper.release();
    this.checkNeeded = false;
    const w = this.watch;
    this.watch = undefined;
    void w?.cancel();
    if (logIt) this.log.warn({ id: this.opts.id, reason }, 'election lease lost');
    if (wasLeading) this.emit('deposed', reason);
  }

  // Changes to the candidates (a leader's key expiring) wake the loop at once instead of at the next check.
  private async startWatch(revision: string): Promise<void> {
    try {
      const w = await this.store.watch(this.keys.election, (BigInt(revision) + 1n).toString());
      const poke = () => {
        this.checkNeeded = true;
        this.wakeup.wake();
      };
      w.on('event', poke);
      w.on('connected', poke);
      w.on('error', poke);
      w.on('disconnected', () => undefined);
      if (this.lease) this.watch = w;
      else await w.cancel();
    } catch (err) {
      // The periodic check still notices changes, one keepalive interval later.
      this.log.debug({ err }, 'election watch not started');
    }
  }
}
