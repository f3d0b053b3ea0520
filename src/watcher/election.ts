// Leader election among watchers, on etcd: each watcher puts `<election>/<id>` under its own lease; the key
// with the lowest create revision leads. A leader's writes carry a compare on its own key and lease (the
// fence): once its lease is gone, nothing it writes lands. Keepalives are sent by us, one short request at
// a time with its own deadline (as the agent does), because etcd3's keeper notices a hung etcd only late.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { LeaseLostError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import { leaseFromHex, type Compare, type Grant, type PrefixWatch, type Store } from '../etcd/store.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { deadline } from './deadline.js';

/** Timing and identity of one candidate. */
export interface ElectionOptions {
  id: string;
  /** Requested lease TTL, seconds. */
  ttl: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
}

/**
 * Events:
 * - `elected` (lease: string): this watcher leads from now on.
 * - `deposed` (reason: string): it no longer leads (lease lost or past its deadline, key gone, shutdown).
 */
export class Election extends EventEmitter {
  private lease: Grant | undefined;
  private deadline = 0;
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
    const backoff = new Backoff(200, 2_000);
    let nextKeepalive = 0;
    let nextCheck = 0;
    while (!signal.aborted) {
      if (!this.lease) {
        if (await this.campaign()) {
          backoff.reset();
          nextKeepalive = Date.now() + this.opts.keepaliveIntervalMs;
          nextCheck = 0;
        } else {
          await sleep(this.conflictLogged ? this.opts.keepaliveIntervalMs : backoff.next(), signal);
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
    if (lease) {
      await deadline(this.store.revoke(lease.id), this.opts.keepaliveTimeoutMs * 2, 'revoke').catch(() => undefined);
    }
  }

  // Grant a lease and put our key, unless a live lease already holds this id.
  private async campaign(): Promise<boolean> {
    let grant: Grant;
    try {
      grant = await this.store.grant(this.opts.ttl);
    } catch (err) {
      this.log.debug({ err }, 'election lease not granted');
      return false;
    }
    const started = Date.now();
    try {
      const res = await this.store.txn(
        [{ key: this.key, target: 'Version', op: '==', value: 0 }],
        [{ put: this.key, value: JSON.stringify({ schema: 1, id: this.opts.id, pid: process.pid }), lease: grant.id }],
        [{ get: this.key }],
      );
      if (!res.succeeded) {
        await this.store.revoke(grant.id).catch(() => undefined);
        if (!this.conflictLogged) {
          this.conflictLogged = true;
          this.log.error({ id: this.opts.id, holderLease: res.gets[0]?.lease }, 'watcher id held by another live lease; waiting');
        }
        return false;
      }
      this.conflictLogged = false;
      this.lease = grant;
      this.deadline = started + grant.ttl * 1000;
      this.log.info({ id: this.opts.id, lease: grant.id, ttl: grant.ttl }, 'campaigning');
      await this.startWatch(res.revision);
      return true;
    } catch (err) {
      await this.store.revoke(grant.id).catch(() => undefined);
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
    const sent = Date.now();
    try {
      const ttl = await this.store.keepAliveOnce(lease.id, this.opts.keepaliveTimeoutMs);
      if (this.lease !== lease) return 0;
      if (ttl <= 0) {
        this.lose('election lease not found on etcd');
        return 0;
      }
      if (Date.now() >= this.deadline) {
        this.log.info({ lease: lease.id }, 'election lease still alive after an outage');
        this.checkNeeded = true;
      }
      this.deadline = sent + ttl * 1000;
      return sent + this.opts.keepaliveIntervalMs;
    } catch (err) {
      this.log.debug({ err }, 'election keepalive failed');
      // Retry at once (another member may answer), but never spin on instant refusals.
      return sent + 200;
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
    this.lease = undefined;
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
