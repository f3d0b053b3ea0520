// Registration: keeps one node's keys in etcd under one lease, for as long as the agent runs.
//
// The agent's own truth is "registered until last successful keepalive + granted TTL". The lease is
// kept by the LeaseKeeper (src/etcd/lease-keeper.ts, shared with the watcher's election): keepalives
// are our own short requests with their own deadline, grants back off and never leave orphan leases.
// When the lease is gone (expired, revoked, keys deleted by hand) a new one is granted and
// everything is written again in one transaction. Nothing is written while nothing changes.
//
// Where a registration stands is one value (registration-state.ts); beside it live only what spans
// states: the outage (outage.ts), our own writes (writer.ts), the leases this process granted and
// the work asked of the loop.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { LeaseLostError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import { LeaseKeeper, overloaded, type LeaseTiming } from '../etcd/lease-keeper.js';
import type { Grant, KeyValue, Store, WatchEvent } from '../etcd/store.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { resolveHolder, type Self } from './conflict.js';
import { nothingWritten, type Desired, type Renderer } from './desired.js';
import { Outage, pauseBeforeGrant } from './outage.js';
import { OwnKeyWatches, watchedKeys } from './own-key-watch.js';
import { transition, type Registered, type RegistrationState } from './registration-state.js';
import { RegistrationWriter } from './writer.js';

export type { Desired, Renderer } from './desired.js';
export type { Self } from './conflict.js';

/** Timing of one registration: its lease's (requested TTL in seconds, keepalive interval and deadline). */
export interface RegistrationOptions extends LeaseTiming {
  node: string;
  /** Level-triggered re-read of our own keys, as a safety net behind the watch. */
  verifyIntervalMs?: number;
}

/** Why a lease was given up: `lease-not-found` (expired or revoked on etcd), `keepalive-deadline` (etcd unreachable past the TTL), `name-taken`. */
export type LostKind = 'lease-not-found' | 'keepalive-deadline' | 'name-taken';

/** What one registration attempt came to; the loop picks its wait from it. */
type Attempt = 'registered' | 'retry' | 'conflict' | 'error' | 'unanswered';

/** Leases this process granted that are remembered (the latest few). */
const OWN_LEASES = 8;

/**
 * Events:
 * - `registered` (Grant): a registration was written under a new lease (or, after an outage, this
 *   process's lost lease was found still alive on etcd and kept).
 * - `lost` (reason: string, kind: LostKind): the lease is gone or past its deadline; a new one will be granted.
 * - `keepalive` (ms: number): a keepalive succeeded after this round trip (not fired for failed ones).
 * - `conflict` (holder: string): another live lease holds this node name; checking again later.
 */
export class Registration extends EventEmitter {
  private state: RegistrationState = { kind: 'unregistered' };
  /** Holds the lease while registered: keepalives, the deadline (last moment we may believe it alive). */
  private readonly keeper: LeaseKeeper;
  private readonly outage: Outage;
  private readonly writer: RegistrationWriter;
  /** Leases this process granted (the latest few): only these may be taken back by pid (handleHolder). */
  private readonly ownLeases: string[] = [];
  /**
   * Work asked of the loop, done once registered: `sync` writes what the renderer now gives (asked by
   * update() in any state, and again after a failed write), `verify` re-reads our keys first (a watch
   * gap, etcd answering again, a lease taken back), `deleted` holds deletions of keys under our lease
   * seen on the watch, said only once a keepalive has told whether the lease itself is gone.
   */
  private readonly pending = { sync: false, verify: false, deleted: [] as WatchEvent[] };
  private readonly wakeup = new Wakeup();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly opts: RegistrationOptions,
    private readonly self: Self,
    private render: Renderer,
    private readonly log: Logger,
  ) {
    super();
    this.keeper = new LeaseKeeper(store, opts, log);
    this.outage = new Outage(log);
    this.writer = new RegistrationWriter(store, keys.live(opts.node), log, (e) => this.onOwnKeyEvent(e));
  }

  /** Hex id of the current lease, if registered. */
  get leaseId(): string | undefined {
    return this.state.kind === 'registered' ? this.state.lease.id : undefined;
  }

  /** Whether the registration is believed alive right now (last keepalive + TTL not passed). */
  isRegistered(now = Date.now()): boolean {
    return this.state.kind === 'registered' && now < this.keeper.deadline;
  }

  /** Replace what should be registered; the difference is written under the same lease. */
  update(render: Renderer): void {
    this.render = render;
    this.pending.sync = true;
    this.wakeup.wake();
  }

  /** Keep the registration until `signal` aborts, then leave gracefully and resolve. Runs once. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.state.kind === 'stopped') throw new Error('a Registration runs once');
    const backoff = new Backoff(100, 1_000);
    let nextKeepalive = 0;
    let nextVerify = 0;
    const verifyEvery = this.opts.verifyIntervalMs ?? 30_000;
    // Since when every take-back of a lost lease has timed out (etcd reachable but too slow), if so.
    let takeBackSlowSince: number | undefined;
    while (!signal.aborted) {
      const st: RegistrationState = this.state;
      if (st.kind !== 'registered') {
        const outcome = await this.register(signal);
        if (outcome === 'registered') {
          backoff.reset();
          takeBackSlowSince = undefined;
          nextKeepalive = Date.now() + this.opts.keepaliveIntervalMs;
          nextVerify = Date.now() + verifyEvery;
        } else if (outcome === 'conflict') {
          await sleep(this.opts.keepaliveIntervalMs, signal);
        } else if (outcome === 'unanswered') {
          // Asking for our old lease back is a keepalive, not a raft write: retried at a keepalive's
          // pace, not the grant backoff's (a restored lease must be taken back before its TTL runs out),
          // slower while etcd answers too late (LeaseKeeper.takeBackDelay).
          // But only while that can still work: etcd does not answer at all (down: the lease waits for
          // it), or answers in time now and then. Take-backs that have all timed out for longer than the
          // TTL mean a busy etcd whose restored lease has run out meanwhile, and etcd answers a renewal of
          // an expired lease only once it has revoked it, which a busy etcd may take minutes to do: a
          // fleet asking on would never register again (10,000 nodes after an outage: docs/benchmarks.md).
          // So the lease is given up and the node registers anew, with the grant backoff. Not at once: a
          // fleet gives up together, a TTL after etcd turned slow for all of it, and its first grants (raft
          // writes) would land together on the etcd that is behind; each node waits a random part of a TTL.
          const slow = overloaded(this.outage.lastError);
          takeBackSlowSince = slow ? (takeBackSlowSince ?? Date.now()) : undefined;
          if (takeBackSlowSince !== undefined && Date.now() - takeBackSlowSince > this.opts.ttl * 1000) {
            const grantInMs = Math.round(Math.random() * this.opts.ttl * 1000);
            this.log.info(
              { lease: this.leaseId, slowForMs: Date.now() - takeBackSlowSince, grantInMs },
              'lost lease not taken back in time: registering anew',
            );
            takeBackSlowSince = undefined;
            this.forgetLostLease();
            await sleep(grantInMs, signal);
            continue;
          }
          await sleep(this.keeper.takeBackDelay(this.outage.lastError), signal);
        } else if (outcome === 'error') {
          const probe = () =>
            this.store.get(this.keys.live(this.opts.node)).then(
              () => ({ answered: true as const }),
              (err: unknown) => ({ answered: false as const, err }),
            );
          await pauseBeforeGrant(this.keeper.backoff, this.outage.lastError, probe, signal);
        }
        continue;
      }
      if (this.pending.deleted.length > 0) {
        // Keys under our lease deleted: by etcd revoking the lease (expired while our keepalives were
        // late, or revoked by hand), or by someone deleting keys. etcd deletes a revoked lease's keys
        // before a keepalive can say the lease is gone, and a warning per key naming someone else would
        // give the wrong cause (thousands of them when a busy etcd expires a fleet's leases). A keepalive
        // now tells which: gone, and the registration is lost (one warning, with that reason); alive,
        // and the deletions were someone else's, repaired as any other change.
        const deleted = this.pending.deleted;
        this.pending.deleted = [];
        nextKeepalive = await this.keepalive();
        if (this.state === st) {
          for (const e of deleted) this.log.warn({ key: e.kv.key, change: e.type }, 'own key changed by someone else');
          this.pending.verify = true;
        }
        continue;
      }
      if (this.pending.sync || this.pending.verify || Date.now() >= nextVerify) {
        const verify = this.pending.verify || Date.now() >= nextVerify;
        this.pending.sync = false;
        this.pending.verify = false;
        // Keepalives go on while the sync (and its backoff) runs: see keepingAlive().
        const done = await this.keepingAlive(this.sync(st, verify), nextKeepalive);
        nextKeepalive = done.next;
        if (!done.failed) {
          if (verify) nextVerify = Date.now() + verifyEvery;
          if (this.state === st) this.answering(st.lease.id, false);
        } else {
          this.noteFailure(done.err, 'sync');
          this.pending.sync = true;
          // A verify whose read failed leaves `written` unknown (nothing, after a lease taken back): it is
          // read again before anything is written, or the retry would write every key again, a raft
          // write per node at the moment a fleet comes back to an etcd that is behind.
          if (verify) this.pending.verify = true;
          // A failed write (its member died, say) says nothing of the lease: a keepalive soon tells
          // whether etcd still answers and ends the outage at once when it does, rather than a whole
          // interval later. Cheap: a keepalive is not a raft write.
          nextKeepalive = Math.min(nextKeepalive, Date.now() + 100);
          nextKeepalive = (await this.keepingAlive(sleep(backoff.next(), signal), nextKeepalive)).next;
        }
        continue;
      }
      const wait = nextKeepalive - Date.now();
      if (wait > 0) {
        await this.wakeup.wait(Math.min(wait, nextVerify - Date.now()), signal);
        continue;
      }
      nextKeepalive = await this.keepalive();
    }
    await this.stop();
  }

  // --- Transitions: the only places `state` changes (registration-state.ts lists which may happen). ---

  // Now registered under `lease`, which the keeper already holds (a grant held, a lease taken back).
  private toRegistered(lease: Grant, written: Desired): Registered {
    const watches = new OwnKeyWatches(
      this.store,
      { event: (e) => this.onOwnKeyEvent(e), gap: () => this.requestVerify() },
      this.log,
    );
    this.pending.deleted = []; // about an earlier lease
    return (this.state = transition(this.state, { kind: 'registered', lease, written, watches }));
  }

  // Another live lease holds the name: said once per holder (a log line and a `conflict` event).
  private toConflict(holder: string, who: string): void {
    if (this.state.kind === 'conflict' && this.state.holder === holder) return;
    this.state = transition(this.state, { kind: 'conflict', holder });
    this.log.error(
      { node: this.opts.node, holderLease: holder, holder: who },
      'node name held by another live lease; not overwriting, checking again until it is free',
    );
    this.emit('conflict', who);
  }

  // The lease is no longer ours to keep. Past our own deadline etcd may still hold it: remembered to
  // be asked for first. Otherwise (gone, or the name taken) the next step grants a new one.
  private lose(from: Registered, reason: string, kind: LostKind): void {
    this.state = transition(from, kind === 'keepalive-deadline' ? { kind: 'lost', lease: from.lease.id } : { kind: 'unregistered' });
    this.keeper.release();
    this.pending.deleted = [];
    void from.watches.close();
    this.log.warn({ lease: from.lease.id, reason }, 'registration lost');
    this.emit('lost', reason, kind);
  }

  // A lost lease that etcd no longer holds: register anew.
  private forgetLostLease(): void {
    if (this.state.kind === 'lost') this.state = transition(this.state, { kind: 'unregistered' });
  }

  // Leave (if registered), then stop: mark leaving (so a watcher sees a leave, not a failure), then revoke.
  private async stop(): Promise<void> {
    const from = this.state;
    if (from.kind === 'registered') {
      await from.watches.close();
      this.keeper.release();
      const leaving = (this.state = transition(from, { kind: 'leaving', lease: from.lease, written: from.written }));
      await this.writer.leave(leaving.lease.id, leaving.written, this.render(leaving.lease, 'leaving'));
    }
    this.state = transition(this.state, { kind: 'stopped' });
  }

  // --- Keepalives ---

  // Send keepalives when due (from `due` on) until `work` settles; returns when the next one is due.
  // A write can hang for the whole request timeout (2 s by default) on a stopped etcd member, and a
  // failed one backs off for up to 1 s: with keepalives waiting behind it, a lease of a few seconds
  // would expire while the agent is connected to a healthy majority (with a SIGSTOPped etcd leader
  // and a 3 s TTL, a false NodeFailed).
  private async keepingAlive(work: Promise<unknown>, due: number): Promise<{ next: number; failed: boolean; err?: unknown }> {
    let settled = false;
    const outcome = work.then(
      () => ({ failed: false }),
      (err: unknown) => ({ failed: true, err }),
    );
    void outcome.then(() => (settled = true));
    let next = due;
    while (!settled && this.state.kind === 'registered') {
      const wait = next - Date.now();
      if (wait > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([outcome, new Promise((r) => (timer = setTimeout(r, wait)))]);
        clearTimeout(timer);
        continue;
      }
      next = await this.keepalive();
    }
    return { next, ...(await outcome) };
  }

  // One keepalive; returns when the next one is due. Nothing else runs on a tick: the keepalive, and
  // (only when an outage ends) one log line.
  private async keepalive(): Promise<number> {
    const st = this.state;
    if (st.kind !== 'registered') return 0;
    const r = await this.keeper.keepalive();
    if (this.state !== st) return 0; // lost meanwhile (a sync found the name taken, say)
    switch (r.kind) {
      case 'alive':
        this.emit('keepalive', r.rttMs);
        // Debug only (a no-op call at the default level): what the overload test reads its margin from.
        this.log.debug({ rttMs: r.rttMs }, 'keepalive');
        this.answering(st.lease.id);
        return r.next;
      case 'failed':
        this.noteFailure(r.err, 'keepalive');
        return r.next;
      case 'expired':
        this.noteFailure(r.err, 'keepalive');
        if (this.state !== st) return 0;
        this.lose(st, 'keepalive deadline passed: etcd unreachable for longer than the TTL', 'keepalive-deadline');
        return 0;
      case 'gone':
        this.lose(st, 'lease not found on etcd (expired or revoked)', 'lease-not-found');
        return 0;
    }
  }

  // etcd answers again after failures: say so with the outage's length (whatever path noticed it:
  // a keepalive, a kept lease, a new registration), and re-read our keys (a gap: level-triggered).
  private answering(lease: string, verify = true): void {
    if (this.outage.answered(lease) && verify) this.pending.verify = true;
  }

  private noteFailure(err: unknown, op: string): void {
    const st = this.state;
    if (err instanceof LeaseLostError && st.kind === 'registered') {
      this.outage.lastError = err;
      this.lose(st, 'lease not found on etcd', 'lease-not-found');
      return;
    }
    this.outage.failed(err, op, this.leaseId);
  }

  // --- Registering ---

  // Grant a lease and write everything in one transaction, unless another live lease holds the name.
  private async register(signal?: AbortSignal): Promise<Attempt> {
    // A lease given up at our deadline may still be alive (see Lost). Try it first, with the short
    // keepalive deadline: grant and txn calls can hang on a stopped member for the whole request
    // timeout while the old lease runs out, and a lease taken back is no failure for the watchers (with
    // an etcd leader SIGSTOPped, an election of ~3 s under load can outlast a 3 s TTL's deadline).
    if (this.state.kind === 'lost') {
      const kept = await this.keepOwnLease(this.state.lease);
      if (kept === 'error') return 'unanswered';
      if (kept !== 'gone') return kept;
    }
    let grant: Grant;
    let sentAt: number;
    try {
      ({ grant, sentAt } = await this.keeper.grant());
    } catch (err) {
      this.noteFailure(err, 'grant');
      return 'error';
    }
    const desired = this.render(grant, 'up');
    try {
      const res = await this.writer.first(desired, grant.id);
      if (res.succeeded) {
        this.keeper.hold(grant, sentAt);
        this.ownLeases.push(grant.id);
        if (this.ownLeases.length > OWN_LEASES) this.ownLeases.shift();
        const st = this.toRegistered(grant, desired);
        this.answering(grant.id, false);
        this.log.info({ lease: grant.id, ttl: grant.ttl }, 'registered');
        await st.watches.follow(this.watchedKeys(st), res.revision);
        this.emit('registered', grant);
        return 'registered';
      }
      await this.keeper.settle(grant.id);
      return await this.handleHolder(res.gets[0], signal);
    } catch (err) {
      // The transaction may have been applied before the error: revoking makes it harmless. In the
      // background: the backoff must not wait for a slow etcd first (the keeper reuses the id if the
      // revoke does not get through).
      this.keeper.forget(grant.id);
      this.noteFailure(err, 'register');
      return 'error';
    }
  }

  // The live key exists under another lease (or none): see conflict.ts.
  private async handleHolder(holder: KeyValue | undefined, signal?: AbortSignal): Promise<Exclude<Attempt, 'unanswered'>> {
    const ctx = {
      store: this.store,
      self: this.self,
      ownLeases: this.ownLeases,
      takeBack: (lease: string, revision: string) => this.keepOwnLease(lease, revision),
      log: this.log,
    };
    const r = await resolveHolder(ctx, holder, signal);
    if (r.kind === 'error' && r.err !== undefined) this.noteFailure(r.err, 'lease timetolive');
    if (r.kind === 'conflict') this.toConflict(r.holder, r.who);
    return r.kind;
  }

  // Take back this process's own lease if etcd still has it: 'registered', 'gone' (expired or revoked:
  // register anew) or 'error' (etcd did not answer: do not give the lease up, try again).
  private async keepOwnLease(lease: string, revision?: string): Promise<'registered' | 'gone' | 'error'> {
    let taken: 'held' | 'gone';
    try {
      taken = await this.keeper.takeBack(lease);
    } catch (err) {
      this.noteFailure(err, 'keepalive');
      return 'error';
    }
    if (taken === 'gone') {
      this.forgetLostLease();
      return 'gone';
    }
    // What the lease held was forgotten when it was lost: the verify re-reads our keys and writes back what differs.
    const st = this.toRegistered(this.keeper.lease!, nothingWritten());
    this.answering(lease, false);
    this.pending.verify = true;
    this.log.info({ lease, ttl: st.lease.ttl }, 'lease still alive: registration kept');
    // Without a revision at hand to watch from, the verify repairs what changes meanwhile.
    const from = revision ?? (await this.store.getMany([this.keys.live(this.opts.node)]).then((r) => r.revision, () => undefined));
    if (from) await st.watches.follow(this.watchedKeys(st), from);
    this.emit('registered', st.lease);
    return 'registered';
  }

  // --- Writing while registered ---

  // Write what changed (see RegistrationWriter.sync); watch the keys written, give way to another lease.
  private async sync(st: Registered, verify: boolean): Promise<void> {
    const r = await this.writer.sync(st, this.render(st.lease, 'up'), verify);
    if (r.kind === 'written') await st.watches.follow(this.watchedKeys(st), r.revision, r.rewritten);
    else if (r.kind === 'name-taken' && this.state === st) this.lose(st, 'node name taken by another lease', 'name-taken');
    else if (r.kind === 'again') this.pending.sync = true;
  }

  private watchedKeys(st: Registered): string[] {
    return watchedKeys(this.keys.node(this.opts.node), st.written);
  }

  // A change to one of our keys: someone else's is repaired (see OwnWrites for what counts as ours).
  private onOwnKeyEvent(e: WatchEvent): void {
    const st = this.state;
    if (st.kind !== 'registered' || !this.writer.foreign(e, st.written)) return;
    if (e.type === 'delete' && e.prev?.lease === st.lease.id) {
      this.pending.deleted.push(e);
      this.wakeup.wake();
      return;
    }
    this.log.warn({ key: e.kv.key, change: e.type }, 'own key changed by someone else');
    this.requestVerify();
  }

  private requestVerify(): void {
    this.pending.verify = true;
    this.wakeup.wake();
  }
}
