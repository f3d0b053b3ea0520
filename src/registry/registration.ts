// Registration: keeps one node's keys in etcd under one lease, for as long as the agent runs.
//
// The agent's own truth is "registered until last successful keepalive + granted TTL". The lease is
// kept by the LeaseKeeper (src/etcd/lease-keeper.ts, shared with the watcher's election): keepalives
// are our own short requests with their own deadline, grants back off and never leave orphan leases.
// When the lease is gone (expired, revoked, keys deleted by hand) a new one is granted and
// everything is written again in one transaction. Nothing is written while nothing changes.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DecodeError, EtcdTimeoutError, EtcdUnavailableError, LeaseLostError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import { LeaseKeeper } from '../etcd/lease-keeper.js';
import { leaseFromHex, type Grant, type KeyValue, type PrefixWatch, type Store, type TxnOp } from '../etcd/store.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { decodeNode } from './codec.js';

/** The keys one registration should hold: `leased` go under the lease, `unleased` persist. */
export interface Desired {
  leased: Map<string, string>;
  unleased: Map<string, string>;
}

/** Builds the desired keys for a lease; `leaving` renders the graceful-leave markers. */
export type Renderer = (lease: Grant, phase: 'up' | 'leaving') => Desired;

/** Who this agent is, to recognise its own stale registration after a crash or restart. */
export interface Self {
  machineId: string;
  bootId: string;
  pid: number;
}

/** Timing of one registration. */
export interface RegistrationOptions {
  node: string;
  /** Requested TTL in seconds. */
  ttl: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  /** Level-triggered re-read of our own keys, as a safety net behind the watch. */
  verifyIntervalMs?: number;
}

/** Why a lease was given up: `lease-not-found` (expired or revoked on etcd), `keepalive-deadline` (etcd unreachable past the TTL), `name-taken`. */
export type LostKind = 'lease-not-found' | 'keepalive-deadline' | 'name-taken';

/**
 * Events:
 * - `registered` (Grant): a registration was written under a new lease (or, after an outage, this
 *   process's lost lease was found still alive on etcd and kept).
 * - `lost` (reason: string, kind: LostKind): the lease is gone or past its deadline; a new one will be granted.
 * - `keepalive` (ms: number): a keepalive succeeded after this round trip (not fired for failed ones).
 * - `conflict` (holder: string): another live lease holds this node name; checking again later.
 */
export class Registration extends EventEmitter {
  /** Holds the lease: grants, keepalives, the deadline (last moment we may still believe the lease alive). */
  private readonly keeper: LeaseKeeper;
  private get lease(): Grant | undefined {
    return this.keeper.lease;
  }
  private set lease(g: Grant | undefined) {
    this.keeper.lease = g;
  }
  private get deadline(): number {
    return this.keeper.deadline;
  }
  private written: Desired = { leased: new Map(), unleased: new Map() };
  private readonly wakeup = new Wakeup();
  private dirty = false;
  private verifyNeeded = false;
  private watches: PrefixWatch[] = [];
  private outageSince: number | undefined;
  /** The last failure seen: tells an overloaded etcd (answering, refusing) from one not answering. */
  private lastError: unknown;
  private conflictHolder: string | undefined;
  /** The lease given up at our own deadline while etcd did not answer: it may still be alive (register()). */
  private lostLease: string | undefined;
  /** Revision of our latest write: puts at or below it echo our own (possibly superseded) writes. */
  private lastOwnRevision = 0n;
  /** Leases this process granted (the latest few): only these may be taken back by pid (handleHolder). */
  private readonly ownLeases: string[] = [];
  /** Revisions our own transactions returned (the latest few): an event at one of them is our write. */
  private ownRevisions: bigint[] = [];
  /** Our writes in flight: an event may arrive before the transaction's answer tells us its revision. */
  private writesInFlight = 0;
  /** Events on our keys seen while a write of ours was in flight: judged once it answered. */
  private undecided: { type: 'put' | 'delete'; kv: KeyValue }[] = [];

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly opts: RegistrationOptions,
    private readonly self: Self,
    private render: Renderer,
    private readonly log: Logger,
  ) {
    super();
    this.keeper = new LeaseKeeper(
      store,
      { ttl: opts.ttl, keepaliveIntervalMs: opts.keepaliveIntervalMs, keepaliveTimeoutMs: opts.keepaliveTimeoutMs },
      log,
    );
  }

  /** Hex id of the current lease, if registered. */
  get leaseId(): string | undefined {
    return this.lease?.id;
  }

  /** Whether the registration is believed alive right now (last keepalive + TTL not passed). */
  isRegistered(now = Date.now()): boolean {
    return this.lease !== undefined && now < this.deadline;
  }

  /** Replace what should be registered; the difference is written under the same lease. */
  update(render: Renderer): void {
    this.render = render;
    this.dirty = true;
    this.wakeup.wake();
  }

  /** Keep the registration until `signal` aborts, then leave gracefully and resolve. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 1_000);
    let nextKeepalive = 0;
    let nextVerify = 0;
    const verifyEvery = this.opts.verifyIntervalMs ?? 30_000;
    while (!signal.aborted) {
      if (!this.lease) {
        const outcome = await this.register(signal);
        if (outcome === 'registered') {
          backoff.reset();
          nextKeepalive = Date.now() + this.opts.keepaliveIntervalMs;
          nextVerify = Date.now() + verifyEvery;
        } else if (outcome === 'conflict') {
          await sleep(this.opts.keepaliveIntervalMs, signal);
        } else if (outcome === 'unanswered') {
          // Asking for our old lease back is a keepalive, not a raft write: retried at a keepalive's
          // pace, not the grant backoff's (a restored lease must be taken back before its TTL runs out).
          await sleep(this.keeper.retryDelay(), signal);
        } else if (outcome === 'error') {
          await this.pauseBeforeRegister(signal, this.lastError);
        }
        continue;
      }
      if (this.dirty || this.verifyNeeded || Date.now() >= nextVerify) {
        const verify = this.verifyNeeded || Date.now() >= nextVerify;
        this.dirty = false;
        this.verifyNeeded = false;
        // Keepalives go on while the sync (and its backoff) runs: see keepingAlive().
        const done = await this.keepingAlive(this.sync(verify), nextKeepalive);
        nextKeepalive = done.next;
        if (!done.failed) {
          if (verify) nextVerify = Date.now() + verifyEvery;
          if (this.lease) this.answering(this.lease.id, false);
        } else {
          this.noteFailure(done.err, 'sync');
          this.dirty = true;
          // A write failed (its member died, say): a keepalive soon tells whether etcd still answers, and
          // ends the outage at once when it does, instead of at the next keepalive a whole interval later
          // (an etcd follower SIGKILLed: re-registration took 2.06 s, target ≤ 2 s). Cheap: not a raft write.
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
    await this.stopWatches();
    await this.leave();
  }

  // Send keepalives when due (from `due` on) until `work` settles; returns when the next one is due.
  // A write can hang for the whole request timeout (2 s by default) on a stopped etcd member, and a
  // failed one backs off for up to 1 s: with keepalives waiting behind it, a lease of a few seconds
  // would expire while the agent is connected to a healthy majority (a SIGSTOPped etcd leader with a
  // 3 s TTL: a false NodeFailed).
  private async keepingAlive(work: Promise<unknown>, due: number): Promise<{ next: number; failed: boolean; err?: unknown }> {
    let settled = false;
    const outcome = work.then(
      () => ({ failed: false }),
      (err: unknown) => ({ failed: true, err }),
    );
    void outcome.then(() => (settled = true));
    let next = due;
    while (!settled && this.lease) {
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
    const lease = this.lease!;
    const r = await this.keeper.keepalive();
    if (this.lease !== lease) return 0; // lost meanwhile (a sync found the name taken, say)
    switch (r.kind) {
      case 'alive':
        this.emit('keepalive', r.rttMs);
        // Debug only (a no-op call at the default level): what the overload test reads its margin from.
        this.log.debug({ rttMs: r.rttMs }, 'keepalive');
        this.answering(lease.id);
        return r.next;
      case 'failed':
        this.noteFailure(r.err, 'keepalive');
        return r.next;
      case 'expired':
        this.noteFailure(r.err, 'keepalive');
        if (this.lease !== lease) return 0;
        this.lostLease = lease.id;
        this.lose('keepalive deadline passed: etcd unreachable for longer than the TTL', 'keepalive-deadline');
        return 0;
      case 'gone':
        this.lose('lease not found on etcd (expired or revoked)', 'lease-not-found');
        return 0;
    }
  }

  // etcd answers again after failures: say so with the outage's length (whatever path noticed it:
  // a keepalive, a kept lease, a new registration), and re-read our keys (a gap: level-triggered).
  private answering(lease: string, verify = true): void {
    if (this.outageSince === undefined) return;
    this.log.info({ lease, outageMs: Date.now() - this.outageSince }, 'etcd answering again');
    this.outageSince = undefined;
    if (verify) this.verifyNeeded = true;
  }

  private noteFailure(err: unknown, op: string): void {
    this.lastError = err;
    if (err instanceof LeaseLostError && this.lease) {
      this.lose('lease not found on etcd', 'lease-not-found');
      return;
    }
    if (this.outageSince === undefined) {
      this.outageSince = Date.now();
      this.log.warn({ err, op, lease: this.lease?.id }, 'etcd not answering');
    } else {
      this.log.debug({ err, op }, 'etcd still not answering');
    }
  }

  private lose(reason: string, kind: LostKind): void {
    const lease = this.lease;
    this.lease = undefined;
    this.written = { leased: new Map(), unleased: new Map() };
    this.log.warn({ lease: lease?.id, reason }, 'registration lost');
    void this.stopWatches();
    this.emit('lost', reason, kind);
  }

  // Wait before granting again, with the keeper's backoff (full jitter up to 30 s, faster growth when
  // etcd says it is overloaded or slow): an etcd that answers but refuses then sees a fleet's grants
  // and transactions spread over tens of seconds instead of every agent retrying each second. While
  // etcd does not answer at all, a cheap read every 0.25–0.75 s (jittered): the first one answered
  // after an outage ends the wait, so an agent is back within ~1 s of etcd answering whatever the
  // backoff had grown to; what it does first then is take its old lease back (a keepalive, not a raft
  // write: a restarted etcd restores leases). The backoff is not reset by that: if the grant that may
  // follow fails again, the fleet spreads out. Reads answered from the start mean overload, not an
  // outage: then the probing stops and the backoff holds.
  private async pauseBeforeRegister(signal: AbortSignal, err: unknown): Promise<void> {
    const until = Date.now() + this.keeper.backoff.next(err);
    let down = outageKind(err);
    while (!signal.aborted && Date.now() < until) {
      if (down === 'no') {
        await sleep(until - Date.now(), signal);
        return;
      }
      await sleep(Math.min(until - Date.now(), 250 + Math.random() * 500), signal);
      if (signal.aborted || Date.now() >= until) return;
      const answered = await this.store.get(this.keys.live(this.opts.node)).then(() => true, () => false);
      if (answered && down === 'yes') return;
      down = answered ? 'no' : 'yes';
    }
  }

  // Grant a lease and write everything in one transaction, unless another live lease holds the name.
  private async register(signal?: AbortSignal): Promise<'registered' | 'retry' | 'conflict' | 'error' | 'unanswered'> {
    // A lease given up at our deadline may still be alive: a new etcd leader gives every lease its full
    // TTL again, a restarted etcd restores them from disk. Try it first, with the short keepalive
    // deadline: grant and txn calls can hang on a stopped member for the whole request timeout while the
    // old lease runs out, and a lease taken back is no failure for the watchers (with an etcd leader
    // SIGSTOPped, an election of ~3 s under load can outlast a 3 s TTL's deadline).
    // It is kept until etcd says it is gone, however long the outage: a restarted etcd restores leases
    // from disk whatever their age, and asking costs one keepalive, where a grant is a raft write.
    if (this.lostLease) {
      const kept = await this.keepOwnLease(this.lostLease);
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
    const live = this.keys.live(this.opts.node);
    try {
      const res = await this.ownWrite(
        this.store.txn([{ key: live, target: 'Version', op: '==', value: 0 }], this.puts(desired, grant.id), [{ get: live }]),
      );
      if (res.succeeded) {
        this.keeper.hold(grant, sentAt);
        this.ownLeases.push(grant.id);
        if (this.ownLeases.length > 8) this.ownLeases.shift();
        this.written = desired;
        this.conflictHolder = undefined;
        this.answering(grant.id, false);
        this.log.info({ lease: grant.id, ttl: grant.ttl }, 'registered');
        await this.startWatches(res.revision);
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

  // The live key exists under someone else's lease: ours from before a crash, garbage, or a real rival.
  private async handleHolder(holder: KeyValue | undefined, signal?: AbortSignal): Promise<'registered' | 'retry' | 'conflict' | 'error'> {
    if (!holder) return 'retry';
    if (holder.lease === '') {
      // An unleased live record cannot be a live agent: remove it (only if unchanged) and retry.
      this.log.warn({ key: holder.key }, 'removing unleased live record');
      await this.store.txn([{ key: holder.key, target: 'Mod', op: '==', value: holder.modRevision }], [
        { delete: holder.key },
      ]);
      return 'retry';
    }
    const rec = decodeNode(holder);
    const mine =
      !(rec instanceof DecodeError) &&
      rec.machineId === this.self.machineId &&
      rec.bootId === this.self.bootId &&
      (rec.pid === this.self.pid || !pidAlive(rec.pid));
    if (mine) {
      // Our own lease, lost by our deadline during an etcd outage, may still be alive: etcd restores
      // leases from disk after a restart and a new etcd leader gives each its full TTL again. Keep it:
      // revoking it deletes the live record without a leave marker, which every watcher must report as
      // NodeFailed (after a whole-cluster restart, every live node would "fail").
      // A pid is only unique within its PID namespace: an agent in another one (a container, `unshare
      // --pid`) can have our pid, or one that looks dead from here. Only a lease this process granted is ours.
      if ((rec as { pid: number }).pid === this.self.pid && this.ownLeases.includes(holder.lease)) {
        const kept = await this.keepOwnLease(holder.lease, holder.modRevision);
        if (kept !== 'gone') return kept;
      }
      // Same machine and boot is no proof the holder is dead: revoke only a lease nobody keeps alive.
      const keeper = await this.leaseKeeper(holder.lease, signal);
      if (keeper === 'error') return 'error';
      if (keeper === 'gone') return 'retry';
      if (keeper === 'dead') {
        this.log.info({ lease: holder.lease, pid: (rec as { pid: number }).pid }, 'replacing stale registration of this machine');
        await this.store.revoke(holder.lease);
        return 'retry';
      }
    }
    const who =
      rec instanceof DecodeError
        ? 'undecodable record'
        : mine
          ? `another agent on this machine (pid ${rec.pid}, not this process's and not seen from here; its lease is kept alive)`
          : `machine ${rec.machineId}, address ${rec.address}`;
    if (this.conflictHolder !== holder.lease) {
      this.conflictHolder = holder.lease;
      this.log.error(
        { node: this.opts.node, holderLease: holder.lease, holder: who },
        'node name held by another live lease; not overwriting, checking again until it is free',
      );
      this.emit('conflict', who);
    }
    return 'conflict';
  }

  // Whether someone keeps `lease` alive, told from its remaining TTL alone (etcd says nothing of who
  // sends keepalives): unkept, it falls by the time elapsed; a keepalive puts it back to the granted TTL.
  // etcd rounds each reading down to whole seconds, so a keepalive shows once it lands 2 s or more after
  // the first reading. Any keeper sends one at least every TTL/3 (the config's limit) and gives up on it
  // after the keepalive timeout (< 1 s): a lease silent for TTL/3 + 2 s by its own remaining TTL has no
  // keeper. 'kept' as soon as a keepalive shows, 'dead' once it has been silent that long (a restarted
  // agent's dead predecessor: at most TTL/3 + 3 s after the crash, 6.3 s at the default 10 s TTL),
  // 'gone' when it expires meanwhile, 'error' when etcd does not answer.
  private async leaseKeeper(lease: string, signal?: AbortSignal): Promise<'kept' | 'dead' | 'gone' | 'error'> {
    try {
      const first = await this.store.timeToLive(lease);
      const seen = Date.now();
      const silentEnough = (ttl: number) => first.grantedTtl - ttl - 1 >= first.grantedTtl / 3 + 2;
      if (first.ttl <= 0) return 'gone';
      if (silentEnough(first.ttl)) return 'dead';
      while (!signal?.aborted) {
        await sleep(250, signal);
        const sent = Date.now();
        const now = await this.store.timeToLive(lease);
        if (now.ttl <= 0) return 'gone';
        // Unkept, remaining = first's exact remaining − elapsed, so it always shows
        // now.ttl < first.ttl + 1 − elapsed (seconds): anything more is a keepalive.
        if (now.ttl >= first.ttl + 1 - (sent - seen) / 1000) return 'kept';
        // Silent long enough; or, a backstop, watched past the last moment a keeper's keepalive could show.
        if (silentEnough(now.ttl) || sent - seen > (first.grantedTtl * 1000) / 3 + 4_000) return 'dead';
      }
      return 'error';
    } catch (err) {
      if (err instanceof LeaseLostError) return 'gone';
      this.noteFailure(err, 'lease timetolive');
      return 'error';
    }
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
    this.lostLease = undefined;
    if (taken === 'gone') return 'gone';
    this.conflictHolder = undefined;
    this.answering(lease, false);
    // `written` was cleared when the lease was lost: re-read our keys and write back what differs.
    this.verifyNeeded = true;
    this.log.info({ lease, ttl: this.lease!.ttl }, 'lease still alive: registration kept');
    // Our own-key watches stopped with the loss; without a revision at hand, the verify repairs meanwhile.
    const from = revision ?? (await this.store.getMany([this.keys.live(this.opts.node)]).then((r) => r.revision, () => undefined));
    if (from) await this.startWatches(from);
    this.emit('registered', this.lease);
    return 'registered';
  }

  // Run one of our own writes, remembering the revision it returned, so that its watch event is known
  // as ours even when it arrives before the answer (events seen meanwhile wait for it: judgeUndecided).
  private async ownWrite<T extends { succeeded: boolean; revision: string }>(write: Promise<T>): Promise<T> {
    this.writesInFlight++;
    try {
      const res = await write;
      // A failed compare writes nothing: its revision is someone else's (or nobody's).
      if (res.succeeded) {
        const rev = BigInt(res.revision);
        if (rev > this.lastOwnRevision) this.lastOwnRevision = rev;
        this.ownRevisions.push(rev);
        if (this.ownRevisions.length > 32) this.ownRevisions.shift();
      }
      return res;
    } finally {
      this.writesInFlight--;
      if (this.writesInFlight === 0) this.judgeUndecided();
    }
  }

  private puts(d: Desired, lease: string): TxnOp[] {
    const ops: TxnOp[] = [];
    for (const [k, v] of d.leased) ops.push({ put: k, value: v, lease });
    for (const [k, v] of d.unleased) ops.push({ put: k, value: v });
    return ops;
  }

  // Write the difference between desired and written; with `verify`, re-read what etcd holds first.
  private async sync(verify: boolean): Promise<void> {
    const lease = this.lease!;
    const desired = this.render(lease, 'up');
    if (verify) await this.reread(desired);
    const ops: TxnOp[] = [];
    for (const [k, v] of desired.leased) if (this.written.leased.get(k) !== v) ops.push({ put: k, value: v, lease: lease.id });
    for (const [k, v] of desired.unleased) if (this.written.unleased.get(k) !== v) ops.push({ put: k, value: v });
    for (const k of this.written.leased.keys()) if (!desired.leased.has(k)) ops.push({ delete: k });
    for (const k of this.written.unleased.keys()) if (!desired.unleased.has(k)) ops.push({ delete: k });
    if (ops.length === 0) return;
    const live = this.keys.live(this.opts.node);
    const res = await this.ownWrite(
      this.store.txn([{ key: live, target: 'Lease', op: '==', value: leaseFromHex(lease.id) }], ops, [{ get: live }]),
    );
    if (res.succeeded) {
      this.written = desired;
      this.log.info({ lease: lease.id, writes: ops.length }, 'registration updated');
      await this.restartWatchesIfKeysChanged(res.revision);
      return;
    }
    const holder = res.gets[0];
    if (holder && holder.lease !== '' && holder.lease !== lease.id) {
      // Someone else registered this name while our keys were gone: step back.
      await this.store.revoke(lease.id).catch(() => undefined);
      this.lose('node name taken by another lease', 'name-taken');
      return;
    }
    // Our live record is gone (deleted by hand) while the lease lives: write everything again.
    const again = await this.ownWrite(
      this.store.txn([{ key: live, target: 'Version', op: '==', value: 0 }], this.puts(desired, lease.id)),
    );
    if (!again.succeeded) {
      this.dirty = true;
      return;
    }
    this.written = desired;
    this.log.warn({ lease: lease.id }, 'registration rewritten after its keys were deleted');
    await this.restartWatchesIfKeysChanged(again.revision, true);
  }

  // Level-triggered: forget what we think we wrote where etcd disagrees.
  private async reread(desired: Desired): Promise<void> {
    const lease = this.lease!;
    const all = [...new Set([...desired.leased.keys(), ...this.written.leased.keys()])];
    const allUnleased = [...new Set([...desired.unleased.keys(), ...this.written.unleased.keys()])];
    const { kvs } = await this.store.getMany([...all, ...allUnleased]);
    const leased = new Map<string, string>();
    const unleased = new Map<string, string>();
    all.forEach((k, i) => {
      const kv = kvs[i];
      if (kv && kv.lease === lease.id) leased.set(k, kv.value.toString());
    });
    allUnleased.forEach((k, i) => {
      const kv = kvs[all.length + i];
      if (kv) unleased.set(k, kv.value.toString());
    });
    this.written = { leased, unleased };
  }

  private watchedKeys(): string[] {
    const nodePrefix = this.keys.node(this.opts.node);
    const outside = [...this.written.leased.keys(), ...this.written.unleased.keys()].filter(
      (k) => !k.startsWith(nodePrefix),
    );
    return [nodePrefix, ...outside.sort()];
  }

  private watchedSignature = '';

  private async restartWatchesIfKeysChanged(revision: string, force = false): Promise<void> {
    if (!force && this.watchedKeys().join('\n') === this.watchedSignature) return;
    await this.stopWatches();
    await this.startWatches(revision);
  }

  // Watch our own keys so a hand-made delete or overwrite is repaired at once, not at the next verify.
  private async startWatches(revision: string): Promise<void> {
    const from = (BigInt(revision) + 1n).toString();
    const keys = this.watchedKeys();
    this.watchedSignature = keys.join('\n');
    const nodePrefix = keys[0]!;
    try {
      for (const k of keys) {
        const w = await this.watchWithin(k === nodePrefix ? this.store.watch(k, from) : this.store.watchKey(k, from));
        w.on('event', (e) => this.onOwnKeyEvent(e.type, e.kv));
        w.on('connected', () => this.requestVerify());
        w.on('error', () => this.requestVerify());
        w.on('disconnected', () => undefined);
        this.watches.push(w);
      }
    } catch (err) {
      // Without watches the periodic verify still repairs; try the watches again on the next sync.
      this.log.debug({ err }, 'own-key watch not started');
      this.watchedSignature = '';
    }
  }

  // A watch is created on a stream with no deadline of its own: on a member hung right after our
  // registration (SIGSTOP) it never settles, and with it the loop that sends our keepalives (the agent
  // then neither kept nor gave up its lease). Bounded like any request; a watch created too late is cancelled.
  private async watchWithin(created: Promise<PrefixWatch>): Promise<PrefixWatch> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EtcdTimeoutError('watch create: deadline exceeded')), this.store.requestTimeoutMs);
    });
    try {
      return await Promise.race([created, late]);
    } catch (err) {
      created.then((w) => void w.cancel(), () => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  // A change to one of our keys: ours (a revision one of our transactions returned, or the value we
  // wrote), undecided while a write of ours has not answered yet, else someone else's: repair.
  private onOwnKeyEvent(type: 'put' | 'delete', kv: KeyValue): void {
    if (!this.lease) return;
    if (this.ownRevisions.includes(BigInt(kv.modRevision))) return;
    const mine = this.written.leased.get(kv.key) ?? this.written.unleased.get(kv.key);
    if (mine === undefined) return;
    if (type === 'put' && kv.value.toString() === mine) return; // our own write echoing back
    if (this.writesInFlight > 0) {
      this.undecided.push({ type, kv });
      return;
    }
    // An echo of an earlier write of ours, already superseded by a later one.
    if (type === 'put' && BigInt(kv.modRevision) <= this.lastOwnRevision) return;
    this.log.warn({ key: kv.key, change: type }, 'own key changed by someone else');
    this.requestVerify();
  }

  private judgeUndecided(): void {
    const events = this.undecided;
    this.undecided = [];
    for (const e of events) this.onOwnKeyEvent(e.type, e.kv);
  }

  private requestVerify(): void {
    this.verifyNeeded = true;
    this.wakeup.wake();
  }

  private async stopWatches(): Promise<void> {
    const ws = this.watches;
    this.watches = [];
    this.watchedSignature = '';
    await Promise.all(ws.map((w) => w.cancel()));
  }

  // Graceful leave: mark leaving (so a watcher sees a leave, not a failure), then revoke.
  private async leave(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    this.lease = undefined;
    const desired = this.render(lease, 'leaving');
    // Only what the leave changes (the live record's state, the identity's leave marker).
    const changed: Desired = {
      leased: new Map([...desired.leased].filter(([k, v]) => this.written.leased.get(k) !== v)),
      unleased: new Map([...desired.unleased].filter(([k, v]) => this.written.unleased.get(k) !== v)),
    };
    try {
      await this.store.txn(
        [{ key: this.keys.live(this.opts.node), target: 'Lease', op: '==', value: leaseFromHex(lease.id) }],
        this.puts(changed, lease.id),
      );
      await this.store.revoke(lease.id);
      this.log.info({ lease: lease.id }, 'left: lease revoked');
    } catch (err) {
      const level = err instanceof EtcdUnavailableError ? 'warn' : 'error';
      this.log[level]({ err, lease: lease.id }, 'leave not recorded; keys expire with the lease');
    }
  }
}

// Whether a failure means etcd is not answering: `no` when etcd itself answered and refused
// (overloaded), `yes` when no connection could be made, `maybe` otherwise (a deadline: hung or slow).
function outageKind(err: unknown): 'yes' | 'no' | 'maybe' {
  const msg = String((err as Error)?.message ?? err);
  if (/etcdserver: (too many requests|request timed out)|RESOURCE_EXHAUSTED/.test(msg)) return 'no';
  if (/UNAVAILABLE|ECONNREFUSED|ECONNRESET|No connection/i.test(msg)) return 'yes';
  return 'maybe';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
