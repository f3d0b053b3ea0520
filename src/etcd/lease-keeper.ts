// Lease keeping, once, for every part of beacon that holds a lease: the agent's registration and the
// watcher's election: one set of retry rules to test and explain.
//
// Three different kinds of request, three different retry rules:
// - Keepalives keep a lease alive and must stay prompt: a keepalive is not a raft write (no fsync, no
//   revision), etcd answers it from the leader's memory for ~0.36 ms of CPU, and a lease dies if none
//   lands within its TTL. A failed one is retried soon, because the next call may reach another member
//   (a hung member has already cost the deadline: /work/shared/ETCD-NOTES.md, "surviving a hung etcd
//   leader"). But a whole fleet retrying every 100 ms against an etcd that is slow would multiply its
//   load exactly when it can least take it, so retries back off with full jitter from 100 ms to a cap of
//   a third of the keepalive interval (clamped to 0.2–2 s): at most a handful of extra keepalives per
//   TTL per node, spread so a fleet refused at the same moment does not retry in step, and never later
//   than the last moment one can still land before the deadline. Asking for a lost lease back (a take-back)
//   is a keepalive too, but for a lease already given up: while etcd is behind it slows down further
//   (takeBackDelay).
// - Grants (and the transaction that follows them) are raft writes: what an overloaded etcd cannot take.
//   The first attempt goes at once (a lease revoked by hand is back within a round trip), a failed one
//   backs off exponentially with full jitter up to 30 s, and an answer that says "overloaded" (`too many
//   requests`) or "slow" (a deadline) counts double: a fleet that lost its leases to an overloaded etcd
//   spreads its grants over tens of seconds instead of re-sending them every second. Once etcd said
//   `too many requests`, the cap is 2 minutes (GRANT_BACKOFF_OVERLOAD_CAP_MS).
// - A grant whose answer came after its caller gave up would leave a lease nobody keeps (an orphan: each
//   is a revocation etcd's leader must still do, and a fleet re-granting at once makes thousands). Every grant
//   therefore carries an id chosen here; a grant with an unknown outcome is revoked by that id at once,
//   and if even that does not get through, the next grant reuses the id: etcd either grants it (the first
//   never landed) or says it exists, and then the lease is taken over. At most one lease per keeper is
//   ever unaccounted for, and only until its TTL runs out.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { EtcdOverloadedError, EtcdTimeoutError, LeaseExistsError, LeaseLostError } from '../errors.js';
import type { Grant, Store } from './store.js';

/** Timing of one lease. */
export interface LeaseTiming {
  /** Requested TTL, seconds (etcd may grant more: its minimum is 2 s). */
  ttl: number;
  keepaliveIntervalMs: number;
  /** Deadline of one keepalive request. */
  keepaliveTimeoutMs: number;
}

/** What one keepalive found. `next` is when the next keepalive (or retry) is due, ms since epoch. */
export type KeepaliveResult =
  | { kind: 'alive'; ttl: number; rttMs: number; next: number }
  | { kind: 'failed'; err: unknown; next: number }
  /**
   * No keepalive landed before the deadline (last good one + TTL): etcd may still hold the lease (a
   * restarted etcd restores it). `next` is when asking again would be a retry's pace.
   */
  | { kind: 'expired'; err: unknown; next: number }
  /** etcd says the lease does not exist (expired or revoked). */
  | { kind: 'gone' };

/**
 * How much longer than the keepalive deadline the request itself may run: an answer that arrives after
 * our deadline (a stalled event loop, a slow member) still extends the lease's deadline.
 */
const LATE_ANSWER_MS = 1_000;

/**
 * Resolve with `p` if it settles within `ms`, else reject with a deadline error. On an overloaded host the
 * event loop stalls, and when it runs again its timers fire before the sockets are read: an answer that
 * arrived in time would then be taken for a missed deadline (and a lease given up while etcd renewed it).
 * So when the timer fires, one poll turn (setImmediate) lets whatever has arrived be read first.
 */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (!settled) reject(new EtcdTimeoutError(`${what}: deadline exceeded`));
        }),
      ms,
    );
    p.then(
      (v) => {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Grant retries: full jitter from 200 ms up to this cap. */
export const GRANT_BACKOFF_CAP_MS = 30_000;
/**
 * The cap once etcd has refused a request as `too many requests` (its apply loop 5,000 entries behind):
 * a fleet of N nodes at a cap C offers about 2N/C grants a second (each a raft write, with its
 * transaction), 667 a second for 10,000 nodes at 30 s, more than a small etcd applies while it also
 * revokes the leases that ran out; behind, it fails every keepalive too (etcd 3.4 makes a renewal wait
 * for the applied index). Four times the cap brings that to 167 a second.
 */
export const GRANT_BACKOFF_OVERLOAD_CAP_MS = 120_000;
const GRANT_BACKOFF_BASE_MS = 200;

/**
 * Backoff between grant attempts: full jitter, base·2^n up to the cap; an overloaded or slow etcd
 * (too many requests, deadlines) advances it two steps at a time, and once etcd said `too many
 * requests` the cap is GRANT_BACKOFF_OVERLOAD_CAP_MS until the next reset.
 */
export class GrantBackoff {
  private attempt = 0;
  private refused = false;
  constructor(
    private readonly baseMs = GRANT_BACKOFF_BASE_MS,
    private readonly capMs = GRANT_BACKOFF_CAP_MS,
    private readonly overloadCapMs = GRANT_BACKOFF_OVERLOAD_CAP_MS,
  ) {}
  /** The delay before the next attempt after a failure with `err`. */
  next(err?: unknown): number {
    this.attempt += overloaded(err) ? 2 : 1;
    if (err instanceof EtcdOverloadedError) this.refused = true;
    const cap = this.refused ? this.overloadCapMs : this.capMs;
    const ceiling = Math.min(cap, this.baseMs * 2 ** Math.min(this.attempt - 1, 20));
    return Math.round(Math.random() * ceiling);
  }
  /** Failures counted so far (0 after reset). */
  get failures(): number {
    return this.attempt;
  }
  reset(): void {
    this.attempt = 0;
    this.refused = false;
  }
}

/** Whether an error says etcd is overloaded or slow (rather than unreachable, or refusing for good). */
export function overloaded(err: unknown): boolean {
  return err instanceof EtcdOverloadedError || err instanceof EtcdTimeoutError;
}

/** Whether a failed request may still have been applied by etcd (its answer never came). */
function outcomeUnknown(err: unknown): boolean {
  return err instanceof EtcdTimeoutError;
}

/** A random non-zero lease id (hex, 63 bits: etcd's ids are positive int64). */
function newLeaseId(): string {
  const b = randomBytes(8);
  b[0]! &= 0x7f;
  const hex = b.toString('hex');
  return /^0+$/.test(hex) ? '0000000000000001' : hex;
}

/**
 * One lease: grant (with backoff and orphan protection), keepalive (with its own deadline and retries),
 * take back, revoke. The owner decides what to write under it and when to grant again.
 */
export class LeaseKeeper {
  /** The lease held, if any. */
  lease: Grant | undefined;
  /** Last moment the lease can still be alive on etcd (last good keepalive's send time + TTL), ms since epoch. */
  deadline = 0;
  /** Backoff between grant attempts (the owner calls next() after a failed grant or first write). */
  readonly backoff = new GrantBackoff();
  private keepaliveFailures = 0;
  private slowTakeBacks = 0;
  /** A grant of ours whose outcome is unknown and whose revoke did not get through: reused by the next grant. */
  private unsettledId: string | undefined;

  constructor(
    private readonly store: Store,
    readonly timing: LeaseTiming,
    private readonly log: Logger,
  ) {}

  /** Whether the lease is held and its deadline has not passed. */
  isAlive(now = Date.now()): boolean {
    return this.lease !== undefined && now < this.deadline;
  }

  /**
   * Grant a new lease (not yet held: call hold() once it is in use). `sentAt` is when the request left:
   * the lease's deadline counts from there. A grant whose outcome is unknown is revoked at once.
   */
  async grant(): Promise<{ grant: Grant; sentAt: number }> {
    const id = this.unsettledId ?? newLeaseId();
    const sentAt = Date.now();
    try {
      const grant = await this.store.grantWithId(this.timing.ttl, id);
      this.unsettledId = undefined;
      return { grant, sentAt };
    } catch (err) {
      if (err instanceof LeaseExistsError && this.unsettledId === id) {
        // Our earlier grant did land after all: take it over instead of leaving it to expire.
        this.unsettledId = undefined;
        const ttl = await this.store.keepAliveOnce(id, this.timing.keepaliveTimeoutMs).catch(() => 0);
        if (ttl > 0) {
          this.log.info({ lease: id, ttl }, 'late grant taken over');
          return { grant: { id, ttl }, sentAt };
        }
        throw err;
      }
      if (outcomeUnknown(err)) this.forget(id);
      throw err;
    }
  }

  /**
   * Give up a lease we may hold but will not use (a grant with an unknown outcome, or one whose first
   * write failed): revoke it by id at once; if etcd does not confirm, the next grant reuses the id, so
   * the lease is either taken over then or never created. Resolves when the revoke settled.
   */
  async settle(id: string): Promise<void> {
    try {
      await this.store.revoke(id);
      if (this.unsettledId === id) this.unsettledId = undefined;
    } catch (err) {
      this.unsettledId = id;
      this.log.debug({ err, lease: id }, 'revoke of an unused lease not confirmed; its id is reused');
    }
  }

  /** settle() in the background: the caller goes on (to its backoff) at once. */
  forget(id: string): void {
    void this.settle(id);
  }

  /** Hold `grant` from now on: keepalives go to it, its deadline counts from `sentAt`. */
  hold(grant: Grant, sentAt: number): void {
    this.lease = grant;
    this.deadline = sentAt + grant.ttl * 1000;
    this.keepaliveFailures = 0;
    this.slowTakeBacks = 0;
    this.backoff.reset();
  }

  /** Stop holding the lease (not revoked: it expires on etcd unless revoked or taken back). */
  release(): Grant | undefined {
    const lease = this.lease;
    this.lease = undefined;
    return lease;
  }

  /**
   * Take back a lease by id if etcd still holds it (one keepalive). 'held' (now held), 'gone', or throws
   * when etcd did not answer.
   */
  async takeBack(id: string): Promise<'held' | 'gone'> {
    const sentAt = Date.now();
    let ttl: number;
    try {
      ttl = await this.store.keepAliveOnce(id, this.timing.keepaliveTimeoutMs);
    } catch (err) {
      if (err instanceof LeaseLostError) return 'gone';
      throw err;
    }
    if (ttl <= 0) return 'gone';
    this.hold({ id, ttl }, sentAt);
    return 'held';
  }

  /** One keepalive of the held lease; says when the next one is due. */
  async keepalive(): Promise<KeepaliveResult> {
    const lease = this.lease;
    if (!lease) return { kind: 'gone' };
    const sent = Date.now();
    let ttl: number;
    const request = this.store.keepAliveOnce(lease.id, this.timing.keepaliveTimeoutMs + LATE_ANSWER_MS);
    try {
      ttl = await within(request, this.timing.keepaliveTimeoutMs, 'lease keepalive');
    } catch (err) {
      if (err instanceof LeaseLostError) return { kind: 'gone' };
      // Given up on, but it may still be answered: a late "alive" still moves the deadline.
      request.then(
        (late) => {
          if (this.lease === lease && late > 0) this.deadline = Math.max(this.deadline, sent + late * 1000);
        },
        () => undefined,
      );
      const now = Date.now();
      // See the file's opening comment: soon, jittered, growing, capped, and never past the last useful moment.
      const retry = sent + this.retryDelay();
      if (now >= this.deadline) return { kind: 'expired', err, next: Math.max(now + 50, retry) };
      return { kind: 'failed', err, next: Math.max(now + 50, Math.min(retry, this.deadline - this.timing.keepaliveTimeoutMs)) };
    }
    if (this.lease !== lease) return { kind: 'gone' };
    if (ttl <= 0) return { kind: 'gone' };
    this.deadline = sent + ttl * 1000;
    this.keepaliveFailures = 0;
    return { kind: 'alive', ttl, rttMs: Date.now() - sent, next: sent + this.timing.keepaliveIntervalMs };
  }

  /**
   * How long to wait before retrying a failed keepalive: 100 ms plus full jitter that doubles with each
   * failure in a row, capped at a third of the interval (0.2–2 s). Reset by success.
   */
  retryDelay(): number {
    const ceiling = Math.min(this.retryCapMs(), 100 * 2 ** Math.min(this.keepaliveFailures++, 10));
    return 100 + Math.random() * ceiling;
  }

  /**
   * How long to wait before asking for a lost lease again after a take-back failed with `err`. While etcd
   * does not answer at all, at a failed keepalive's pace (retryDelay): nothing reaches etcd, and a restored
   * lease must be asked for soon after it answers. While it answers too late or refuses (a deadline, too many
   * requests), the ceiling doubles with each such take-back in a row, from the keepalive retry cap up to half
   * the TTL. At the keepalive pace a fleet sends ~N/1.1 s take-backs, nine times its steady keepalive rate at
   * TTL 30 s, to an etcd that is already behind: then no answer comes in time and the fleet never gets back
   * (10,000 nodes after an outage, docs/reliability.md). Half the TTL still leaves two tries in a restored
   * lease's TTL. Reset when a lease is held.
   */
  takeBackDelay(err: unknown): number {
    if (!overloaded(err)) {
      this.slowTakeBacks = 0;
      return this.retryDelay();
    }
    const ceiling = Math.min(this.timing.ttl * 500, this.retryCapMs() * 2 ** Math.min(this.slowTakeBacks++, 10));
    return 100 + Math.random() * ceiling;
  }

  private retryCapMs(): number {
    return Math.min(2_000, Math.max(200, this.timing.keepaliveIntervalMs / 3));
  }

  /** Revoke a lease by id (the held one by default), bounded by `timeoutMs`; a lease already gone is fine. */
  async revoke(id = this.lease?.id, timeoutMs?: number): Promise<void> {
    if (!id) return;
    if (this.lease?.id === id) this.lease = undefined;
    const revoking = this.store.revoke(id);
    if (timeoutMs === undefined) return revoking;
    revoking.catch(() => undefined); // past the deadline its outcome is nobody's business
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        revoking,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new EtcdTimeoutError('lease revoke: deadline exceeded')), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
