// Registration: keeps one node's keys in etcd under one lease, for as long as the agent runs.
//
// The agent's own truth is "registered until last successful keepalive + granted TTL". Keepalives
// are sent by us (one short-lived request every interval with its own deadline, retried at once on
// failure) rather than by etcd3's built-in keeper, which notices a hung etcd only after ~2×TTL.
// When the lease is gone (expired, revoked, keys deleted by hand) a new one is granted and
// everything is written again in one transaction. Nothing is written while nothing changes.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DecodeError, EtcdUnavailableError, LeaseLostError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
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

/**
 * Events:
 * - `registered` (Grant): a registration was written under a new lease.
 * - `lost` (reason: string): the lease is gone or past its deadline; a new one will be granted.
 * - `conflict` (holder: string): another live lease holds this node name; checking again later.
 */
export class Registration extends EventEmitter {
  private lease: Grant | undefined;
  /** Last moment we may still believe the lease alive (ms since epoch). */
  private deadline = 0;
  private written: Desired = { leased: new Map(), unleased: new Map() };
  private readonly wakeup = new Wakeup();
  private dirty = false;
  private verifyNeeded = false;
  private watches: PrefixWatch[] = [];
  private outageSince: number | undefined;
  private conflictHolder: string | undefined;
  /** Revision of our latest write: puts at or below it echo our own (possibly superseded) writes. */
  private lastOwnRevision = 0n;

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly opts: RegistrationOptions,
    private readonly self: Self,
    private render: Renderer,
    private readonly log: Logger,
  ) {
    super();
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
        const outcome = await this.register();
        if (outcome === 'registered') {
          backoff.reset();
          nextKeepalive = Date.now() + this.opts.keepaliveIntervalMs;
          nextVerify = Date.now() + verifyEvery;
        } else if (outcome === 'conflict') {
          await sleep(this.opts.keepaliveIntervalMs, signal);
        } else if (outcome === 'error') {
          await sleep(backoff.next(), signal);
        }
        continue;
      }
      if (this.dirty || this.verifyNeeded || Date.now() >= nextVerify) {
        const verify = this.verifyNeeded || Date.now() >= nextVerify;
        this.dirty = false;
        this.verifyNeeded = false;
        try {
          await this.sync(verify);
          if (verify) nextVerify = Date.now() + verifyEvery;
        } catch (err) {
          this.noteFailure(err, 'sync');
          this.dirty = true;
          await sleep(backoff.next(), signal);
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

  // One keepalive; returns when the next one is due.
  private async keepalive(): Promise<number> {
    const lease = this.lease!;
    const sent = Date.now();
    let ttl: number;
    try {
      ttl = await this.store.keepAliveOnce(lease.id, this.opts.keepaliveTimeoutMs);
    } catch (err) {
      this.noteFailure(err, 'keepalive');
      if (Date.now() >= this.deadline) {
        this.lose('keepalive deadline passed: etcd unreachable for longer than the TTL');
        return 0;
      }
      // Retry at once (each call may reach another member), but never spin on instant refusals.
      return sent + 200;
    }
    if (ttl <= 0) {
      this.lose('lease not found on etcd (expired or revoked)');
      return 0;
    }
    this.deadline = sent + ttl * 1000;
    if (this.outageSince !== undefined) {
      this.log.info({ lease: lease.id, outageMs: Date.now() - this.outageSince }, 'etcd answering again');
      this.outageSince = undefined;
      this.verifyNeeded = true; // a gap: re-read our keys, level-triggered
    }
    return sent + this.opts.keepaliveIntervalMs;
  }

  private noteFailure(err: unknown, op: string): void {
    if (err instanceof LeaseLostError && this.lease) {
      this.lose('lease not found on etcd');
      return;
    }
    if (this.outageSince === undefined) {
      this.outageSince = Date.now();
      this.log.warn({ err, op, lease: this.lease?.id }, 'etcd not answering');
    } else {
      this.log.debug({ err, op }, 'etcd still not answering');
    }
  }

  private lose(reason: string): void {
    const lease = this.lease;
    this.lease = undefined;
    this.written = { leased: new Map(), unleased: new Map() };
    this.log.warn({ lease: lease?.id, reason }, 'registration lost');
    void this.stopWatches();
    this.emit('lost', reason);
  }

  // Grant a lease and write everything in one transaction, unless another live lease holds the name.
  private async register(): Promise<'registered' | 'retry' | 'conflict' | 'error'> {
    let grant: Grant;
    try {
      grant = await this.store.grant(this.opts.ttl);
    } catch (err) {
      this.noteFailure(err, 'grant');
      return 'error';
    }
    const started = Date.now();
    const desired = this.render(grant, 'up');
    const live = this.keys.live(this.opts.node);
    try {
      const res = await this.store.txn(
        [{ key: live, target: 'Version', op: '==', value: 0 }],
        this.puts(desired, grant.id),
        [{ get: live }],
      );
      if (res.succeeded) {
        this.lease = grant;
        this.deadline = started + grant.ttl * 1000;
        this.written = desired;
        this.lastOwnRevision = BigInt(res.revision);
        this.conflictHolder = undefined;
        if (this.outageSince !== undefined) this.outageSince = undefined;
        this.log.info({ lease: grant.id, ttl: grant.ttl }, 'registered');
        await this.startWatches(res.revision);
        this.emit('registered', grant);
        return 'registered';
      }
      await this.store.revoke(grant.id).catch(() => undefined);
      return await this.handleHolder(res.gets[0]);
    } catch (err) {
      // The transaction may have been applied before the error: revoking makes it harmless.
      await this.store.revoke(grant.id).catch(() => undefined);
      this.noteFailure(err, 'register');
      return 'error';
    }
  }

  // The live key exists under someone else's lease: ours from before a crash, garbage, or a real rival.
  private async handleHolder(holder: KeyValue | undefined): Promise<'retry' | 'conflict'> {
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
      this.log.info({ lease: holder.lease, pid: (rec as { pid: number }).pid }, 'replacing stale registration of this machine');
      await this.store.revoke(holder.lease);
      return 'retry';
    }
    const who = rec instanceof DecodeError ? 'undecodable record' : `machine ${rec.machineId}, address ${rec.address}`;
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
    const res = await this.store.txn(
      [{ key: live, target: 'Lease', op: '==', value: leaseFromHex(lease.id) }],
      ops,
      [{ get: live }],
    );
    if (res.succeeded) {
      this.written = desired;
      this.lastOwnRevision = BigInt(res.revision);
      this.log.info({ lease: lease.id, writes: ops.length }, 'registration updated');
      await this.restartWatchesIfKeysChanged(res.revision);
      return;
    }
    const holder = res.gets[0];
    if (holder && holder.lease !== '' && holder.lease !== lease.id) {
      // Someone else registered this name while our keys were gone: step back.
      await this.store.revoke(lease.id).catch(() => undefined);
      this.lose('node name taken by another lease');
      return;
    }
    // Our live record is gone (deleted by hand) while the lease lives: write everything again.
    const again = await this.store.txn(
      [{ key: live, target: 'Version', op: '==', value: 0 }],
      this.puts(desired, lease.id),
    );
    if (!again.succeeded) {
      this.dirty = true;
      return;
    }
    this.written = desired;
    this.lastOwnRevision = BigInt(again.revision);
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
        const w = k === nodePrefix ? await this.store.watch(k, from) : await this.store.watchKey(k, from);
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

  private onOwnKeyEvent(type: 'put' | 'delete', kv: KeyValue): void {
    if (!this.lease) return;
    const mine = this.written.leased.get(kv.key) ?? this.written.unleased.get(kv.key);
    if (mine === undefined) return;
    if (type === 'put' && kv.value.toString() === mine) return; // our own write echoing back
    // An echo of an earlier write of ours, already superseded by a later one still in flight.
    if (type === 'put' && BigInt(kv.modRevision) <= this.lastOwnRevision) return;
    this.log.warn({ key: kv.key, change: type }, 'own key changed by someone else');
    this.requestVerify();
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
