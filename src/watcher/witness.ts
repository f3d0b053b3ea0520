// Witness leases: a few leases the watcher keeps alive itself, with no keys, so that it can tell "etcd
// revoked leases that were being kept alive" from "a node died". etcd before 3.4.28 revokes live leases
// when a stopped leader resumes (etcd-io/etcd#15247): every lease looks expired in its frozen view, and
// the revocations it proposes after stepping down are applied by the new leader. A witness revoked while
// this watcher kept it alive is proof that etcd is doing that now. The keepalive answers also carry the
// raft term: a term that went up recently means a leader change, after which such a wave can come.
import type { Logger } from 'pino';
import type { Store } from '../etcd/store.js';
import { sleep } from '../util/time.js';

/** Options of the witness. */
export interface WitnessOptions {
  /**
   * One lease per entry, with that TTL in seconds. Spread: a resumed stale leader revokes the leases that
   * look expired in its frozen view in expiry order, 16 at a time, and the first batch (proposed while it
   * still believed it led) is lost, the next ones applied 7 s later (its request timeout). Witnesses that
   * all expire first would all be in the lost batch; spread over the range of node TTLs, some fall in
   * the batches that reach the node leases.
   */
  ttls: number[];
  /** Keepalive interval, ms. */
  intervalMs: number;
  /** Deadline of one keepalive, ms. */
  timeoutMs: number;
}

/** The default: 8 leases, TTL 2 s (etcd's minimum) to 15 s, each kept alive every 500 ms. */
export const WITNESS_DEFAULTS: WitnessOptions = { ttls: [2, 3, 4, 5, 6, 8, 10, 15], intervalMs: 500, timeoutMs: 400 };

interface Held {
  id: string;
  /** Last keepalive etcd answered with the lease alive. */
  lastOk: number;
  ttlMs: number;
}

/** What the witness saw in a window. */
export interface WitnessReport {
  /** Witness leases etcd revoked while they were kept alive, within the window. */
  revoked: number;
  /** When the raft term last went up (undefined: never seen to change). */
  termChangedAt?: number;
}

/** Keeps the witness leases alive and remembers what etcd did to them. */
export class Witness {
  private leases: (Held | undefined)[];
  private readonly revokedAt: number[] = [];
  private term = 0n;
  private termChangedAt: number | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly store: Pick<Store, 'grant' | 'revoke' | 'keepAliveTerm'>,
    private readonly opts: WitnessOptions,
    private readonly log: Logger,
  ) {
    this.leases = opts.ttls.map(() => undefined);
  }

  /** Keep the witnesses until `signal` aborts; then revoke them. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = Date.now();
      await this.probe();
      await sleep(this.opts.intervalMs - (Date.now() - started), signal);
    }
    await Promise.all(this.leases.map((l) => l && this.store.revoke(l.id).catch(() => undefined)));
  }

  /** One keepalive round now (shared with one already in flight); resolves when it is done. */
  probe(): Promise<void> {
    this.round ??= this.keepRound().finally(() => (this.round = undefined));
    return this.round;
  }

  /** What happened since `from` (ms since the epoch). */
  since(from: number): WitnessReport {
    return {
      revoked: this.revokedAt.filter((t) => t >= from).length,
      ...(this.termChangedAt !== undefined ? { termChangedAt: this.termChangedAt } : {}),
    };
  }

  private async keepRound(): Promise<void> {
    await Promise.all(this.leases.map((_, i) => this.keep(i)));
    // Forget revocations older than a minute.
    const old = Date.now() - 60_000;
    while (this.revokedAt.length > 0 && this.revokedAt[0]! < old) this.revokedAt.shift();
  }

  private async keep(i: number): Promise<void> {
    const held = this.leases[i];
    try {
      if (!held) {
        const g = await this.store.grant(this.opts.ttls[i]!);
        this.leases[i] = { id: g.id, lastOk: Date.now(), ttlMs: g.ttl * 1000 };
        return;
      }
      const sent = Date.now();
      const r = await this.store.keepAliveTerm(held.id, this.opts.timeoutMs);
      this.noteTerm(r.raftTerm);
      if (r.ttl > 0) {
        held.lastOk = sent;
        return;
      }
      this.leases[i] = undefined;
      // Gone although a keepalive was answered less than a TTL ago: etcd revoked a live lease.
      if (sent - held.lastOk < held.ttlMs) {
        this.revokedAt.push(Date.now());
        this.log.warn({ lease: held.id, sinceKeepaliveMs: sent - held.lastOk }, 'witness lease revoked by etcd while kept alive');
      } else {
        this.log.debug({ lease: held.id }, 'witness lease expired (etcd unreachable for longer than its TTL)');
      }
    } catch (err) {
      this.log.debug({ err }, 'witness keepalive failed');
    }
  }

  private noteTerm(raw: string): void {
    let t: bigint;
    try {
      t = BigInt(raw);
    } catch {
      return;
    }
    if (t > this.term) {
      if (this.term !== 0n) {
        this.termChangedAt = Date.now();
        this.log.info({ term: raw }, 'etcd raft term changed');
      }
      this.term = t;
    }
  }
}
