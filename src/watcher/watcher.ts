// The watcher's composition root. Every watcher keeps a copy of the node keys (feed) and campaigns
// (election); the leader compares that copy with its status records, records transitions with their
// events and reactions in one transaction each (journal), prints each event as one JSON line, and runs
// the hooks (reactor). A new leader starts by listing everything again and resuming unfinished reactions.
import type { Logger } from 'pino';
import type { WatcherFileConfig } from '../config/watcher.js';
import { DecodeError, isRetryable } from '../errors.js';
import { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { SCHEMA_VERSION } from '../types.js';
import { LeaseAudit } from './audit.js';
import { decide, type Decision, type EventDraft } from './classify.js';
import { Election } from './election.js';
import {
  eventId,
  reactionId,
  type DetectedBy,
  type HookOutcome,
  type NodeEvent,
  type ReactionRecord,
  type RevocationEvidence,
  type StatusRecord,
} from './events.js';
import { leftGracefully } from '../registry/leave.js';
import { NodeFeed } from './feed.js';
import { HistoryWriter, outcomeText, type HistoryEntry } from './history.js';
import { hookRunners } from './hooks/index.js';
import type { HookRunners } from './hooks/hook.js';
import { Journal, type Transition, type Versioned, type WriteResult } from './journal.js';
import { NodeModel, type DeletedLive } from './model.js';
import type { ConditionsRecord, MaintenanceRecord } from '../agent/records.js';
import { Reactor } from './reactor.js';
import { Rejections } from './rejections.js';
import { MassFailureGuard, type GuardState, type Population } from './safety.js';
import { WITNESS_DEFAULTS, Witness } from './witness.js';

// Nodes reconciled at once by the leader: etcd commits concurrent transactions with one fsync.
const RECONCILE_BATCH = 64;

// A lost lease is put down to etcd when a witness lease was revoked this close to it.
const WITNESS_WINDOW_MS = 5_000;
// After an etcd leader change (raft term up within this long) a wave of revocations may be under way
// when a delete arrives: the witnesses get one more keepalive round, this long later, before deciding.
const TERM_SUSPECT_MS = 120_000;
const WITNESS_SETTLE_MS = 300;
// A node whose lease etcd revoked registers again after its next keepalive (every TTL/3) finds the lease
// gone, plus the time a registration takes (a grant and a transaction; ~0.1 s, up to ~1.5 s under load).
const REREGISTER_ALLOWANCE_MS = 2_000;
// The TTL assumed for a registration whose record did not decode (the agent's default).
const DEFAULT_NODE_TTL_S = 10;

/** A leadership term: everything that must stop when leadership ends. */
interface Term {
  controller: AbortController;
  reactor: Reactor;
  /** The feed's listing count when the term began: the term works only from a listing taken after it. */
  resyncsAtStart: number;
  ready: boolean;
  /** The nodes' history (docs/keys.md), written by this term only. */
  history: HistoryWriter;
  /** The lease audit of this term (undefined when disabled) and its loop. */
  audit?: LeaseAudit;
  auditRun?: Promise<void>;
}

/** A failure held back because etcd was seen revoking live leases: does the node register again? */
interface Held {
  lease: string;
  seenAt: number;
  until: number;
  by: DetectedBy;
  bootId: string;
  address: string;
  evidence: Omit<RevocationEvidence, 'reregisteredAfterMs'>;
  timer: NodeJS.Timeout;
}

/** A node waiting to be reconciled, with what the watch said about it. */
interface Dirty {
  by: DetectedBy;
  deleted?: DeletedLive;
}

/** A transition waiting for its shared transaction, and who waits for the outcome. */
interface PendingRecord {
  item: Transition;
  resolve: (r: WriteResult) => void;
  reject: (err: unknown) => void;
}

/** Counters for operators and tests. */
export interface WatcherStats {
  garbage: number;
  events: number;
  resyncs: number;
}

/** Sees what the watcher does as it happens (metrics); every method optional, none may throw. */
export interface WatcherObserver {
  /** An event was recorded and announced (leader only). */
  event?(e: NodeEvent): void;
  /** A hook's reaction reached its final outcome (leader only). */
  hookOutcome?(hook: string, outcome: HookOutcome): void;
}

/** A known node's state in this watcher's copy of the registry (every watcher, leader or not). */
export type SeenState = 'up' | 'leaving' | 'left' | 'failed' | 'unknown';

/** One watcher process's work. */
export class Watcher {
  private readonly keys: Keys;
  private readonly log: Logger;
  private readonly rootLog: Logger;
  private readonly model: NodeModel;
  private readonly feed: NodeFeed;
  private readonly election: Election;
  private readonly journal: Journal;
  private readonly guard: MassFailureGuard;
  private readonly wakeup = new Wakeup();
  private readonly dirty = new Map<string, Dirty>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly draining = new Set<Promise<void>>();
  /** Values refused by the codec: logged and counted once per (key, mod revision); also fed by the /http_sd view. */
  readonly rejections: Rejections;
  private readonly witness: Witness;
  /** Leases the audit found expired and not revoked, by node (until the key under it is gone). */
  private readonly overdue = new Map<string, string>();
  /** Failures held back while etcd is seen revoking live leases, by node. */
  private readonly held = new Map<string, Held>();
  private statuses = new Map<string, Versioned<StatusRecord>>();
  private term: Term | undefined;
  private partitionPending: GuardState | undefined;
  /** A listing or a takeover marked every node: say `in sync` once they are all compared. */
  private syncPending = false;
  private readonly counters = { events: 0 };
  /** Transitions waiting to be recorded together (see recordTogether). */
  private pendingRecords: PendingRecord[] = [];
  /** Told when the copy of the registry or this watcher's own state changed (the status page's push). */
  private readonly changeListeners = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly cfg: WatcherFileConfig,
    log: Logger,
    private readonly runners: HookRunners = hookRunners,
    private readonly observer: WatcherObserver = {},
  ) {
    this.keys = new Keys(cfg.prefix);
    this.rootLog = log;
    this.log = log.child({ component: 'watcher', watcher: cfg.watcher.id });
    this.rejections = new Rejections(this.log);
    const garbage = (err: DecodeError, kv: KeyValue) => this.rejections.reject(err, kv, { tracked: false });
    const nodesPrefix = this.keys.nodes;
    this.model = new NodeModel(this.keys, {
      reject: (err, kv) => this.rejections.reject(err, kv),
      clear: (key) => this.rejections.clear(key),
      clearAll: () => this.rejections.clearAll((key) => !key.startsWith(nodesPrefix)),
    }, {
      conditions: (node, before, after) => this.noteConditions(node, before, after),
      maintenance: (node, before, after) => this.noteMaintenance(node, before, after),
    });
    this.feed = new NodeFeed(
      store,
      this.keys,
      this.model,
      { probeIntervalMs: cfg.watcher.probeIntervalMs, requestTimeoutMs: Math.min(cfg.etcd.requestTimeoutMs, 2_000) },
      { resynced: (nodes) => this.onResync(nodes), changed: (touched) => this.onChanges(touched) },
      log.child({ component: 'feed' }),
    );
    const ttl = cfg.watcher.electionTtl;
    const interval = Math.floor((ttl * 1000) / 3);
    this.election = new Election(
      store,
      this.keys,
      { id: cfg.watcher.id, ttl, keepaliveIntervalMs: interval, keepaliveTimeoutMs: Math.min(700, Math.floor(interval / 2)) },
      log.child({ component: 'election' }),
    );
    this.journal = new Journal(store, this.keys, this.election, cfg.watcher.eventRetentionMs, garbage, log.child({ component: 'journal' }));
    this.guard = new MassFailureGuard(cfg.watcher.massFailure);
    this.witness = new Witness(store, WITNESS_DEFAULTS, log.child({ component: 'witness', watcher: cfg.watcher.id }));
  }

  /** Counters so far. */
  stats(): WatcherStats {
    return { ...this.counters, garbage: this.rejections.total, resyncs: this.feed.resyncs };
  }

  /** Whether this watcher currently leads. */
  get isLeader(): boolean {
    return this.election.isLeader;
  }

  /** Whether etcd answers this watcher's feed (listed, and no probe, listing or watch failed since). */
  get etcdAnswering(): boolean {
    return this.feed.answering;
  }

  /**
   * Every known node's state as this watcher's copy shows it: registered (`up`/`leaving`, from the live
   * record), or not (`left` when its identity carries the leave marker, else `failed`); `unknown` when the
   * live record or the identity fails the schema.
   */
  nodeStates(): Map<string, SeenState> {
    const out = new Map<string, SeenState>();
    for (const n of this.model.names()) {
      const live = this.model.live.get(n);
      // A live key that fails the schema says neither up nor gone: `unknown`, like an unreadable identity.
      if (live) out.set(n, !live.record ? 'unknown' : live.record.state === 'leaving' ? 'leaving' : 'up');
      else if (this.model.badIdentity.has(n)) out.set(n, 'unknown');
      else {
        const identity = this.model.identity.get(n);
        out.set(n, leftGracefully(identity, identity?.lease) ? 'left' : 'failed');
      }
    }
    return out;
  }

  /** This watcher's copy of the node keys, read-only (the status page renders it; never written from outside). */
  get nodeRecords(): Pick<NodeModel, 'live' | 'identity' | 'badIdentity' | 'conditionRecords' | 'maintenanceRecords' | 'usageRecords'> {
    return this.model;
  }

  /**
   * Whether this watcher's view is current: etcd answers its feed and, when leading, every node of the
   * latest listing has been compared with its status record (the `in sync` log line).
   */
  get inSync(): boolean {
    if (!this.feed.answering) return false;
    const term = this.term;
    if (!term || !this.election.isLeader) return true;
    return term.ready && !this.syncPending && this.dirty.size === 0;
  }

  /** Whether the mass-failure guard holds remedy hooks back now (leader only; false on a standby). */
  get massFailureTripped(): boolean {
    return this.term !== undefined && this.guard.isTripped;
  }

  /** Call `fn` (synchronously, must not throw) after each change of the copy or of this watcher's role or sync state; returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.changeListeners) fn();
  }

  /** A registered node's labels (from its live record), or undefined. */
  nodeLabels(node: string): Readonly<Record<string, string>> | undefined {
    return this.model.live.get(node)?.record?.labels;
  }

  /** Run until `signal` aborts; resolves after the feed, the election, hooks and timers are released. */
  async run(signal: AbortSignal): Promise<void> {
    this.log.info(
      { prefix: this.cfg.prefix, hooks: this.cfg.hooks.map((h) => `${h.name}(${h.kind})`), electionTtl: this.cfg.watcher.electionTtl },
      'watcher started',
    );
    const onElected = () => this.startTerm();
    const onDeposed = (reason: string) => this.endTerm(reason);
    this.election.on('elected', onElected);
    this.election.on('deposed', onDeposed);
    try {
      await Promise.all([this.feed.run(signal), this.election.run(signal), this.witness.run(signal), this.loop(signal)]);
    } finally {
      this.endTerm('shutdown');
      this.election.off('elected', onElected);
      this.election.off('deposed', onDeposed);
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      await Promise.all([...this.draining]);
      this.log.info(this.stats(), 'watcher stopped');
    }
  }

  private startTerm(): void {
    this.endTerm('new term');
    const controller = new AbortController();
    const history = new HistoryWriter(
      this.store,
      this.keys,
      () => this.election.fence(),
      this.rootLog.child({ component: 'history', watcher: this.cfg.watcher.id }),
      (err, kv) => this.rejections.reject(err, kv, { tracked: false }),
    );
    const reactor = new Reactor({
      journal: this.journal,
      election: this.election,
      hooks: this.cfg.hooks,
      runners: this.runners,
      settings: this.cfg.watcher,
      guard: () => this.checkGuard(),
      stillFailed: (node, lease) => {
        const s = this.statuses.get(node)?.record;
        return s !== undefined && s.state === 'failed' && s.lease === lease;
      },
      log: this.rootLog.child({ component: 'reactor', watcher: this.cfg.watcher.id }),
      onOutcome: (hook, outcome, r) => {
        this.observer.hookOutcome?.(hook, outcome);
        history.note(r.event.node, { time: new Date().toISOString(), what: 'Hook', detail: `${hook} for ${r.event.event}: ${outcomeText(outcome)}`, id: r.id });
      },
      onRateLimited: (r, waitMs) =>
        history.note(r.event.node, {
          time: new Date().toISOString(),
          what: 'HookHeld',
          detail: `${r.hook} for ${r.event.event}: waiting ${(waitMs / 1000).toFixed(1)} s for a rate-limit token (watcher.rateLimit)`,
        }),
    });
    this.term = { controller, reactor, history, resyncsAtStart: this.feed.resyncs, ready: false };
    if (this.cfg.watcher.leaseAudit.enabled) {
      const audit = new LeaseAudit(
        this.store,
        { maxRate: this.cfg.watcher.leaseAudit.maxRate },
        {
          overdue: (node, lease) => {
            this.overdue.set(node, lease);
            if (!this.dirty.has(node)) this.dirty.set(node, { by: 'resync' });
            this.wakeup.wake();
          },
          // Only when the watch copy still shows the key under that lease: a DELETE seen but not yet
          // reconciled (a backlog after a mass failure) is no reason to list everything again.
          missedDelete: (node, lease) => {
            if (this.model.live.get(node)?.lease === lease) {
              this.feed.requestResync(`lease audit: lease of ${node.slice(0, 100)} gone, its key still in the watch copy`);
            }
          },
        },
        this.rootLog.child({ component: 'audit', watcher: this.cfg.watcher.id }),
      );
      this.term.audit = audit;
      this.term.auditRun = audit.run(controller.signal);
    }
    this.statuses = new Map();
    // Work only from a listing taken after the election: the copy may predate a gap.
    this.feed.requestResync('elected leader');
    this.wakeup.wake();
    this.changed();
  }

  private endTerm(reason: string): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    term.controller.abort(reason);
    this.statuses = new Map();
    this.partitionPending = undefined;
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
    this.overdue.clear();
    const d = Promise.all([term.reactor.drain(), term.auditRun])
      .then(() => term.history.close())
      .finally(() => this.draining.delete(d));
    this.draining.add(d);
    this.log.info({ reason }, 'leadership term ended');
    this.changed();
  }

  private onResync(nodes: Set<string>): void {
    for (const n of nodes) if (!this.dirty.has(n)) this.dirty.set(n, { by: 'resync' });
    this.syncPending = true;
    this.wakeup.wake();
    this.changed();
  }

  private onChanges(touched: { node: string; deleted?: DeletedLive }[]): void {
    for (const t of touched) {
      const prev = this.dirty.get(t.node);
      const deleted = t.deleted ?? prev?.deleted;
      this.dirty.set(t.node, { by: 'watch', ...(deleted ? { deleted } : {}) });
    }
    this.wakeup.wake();
    this.changed();
  }

  // The single worker: only the leader reconciles; a batch of distinct nodes at a time, a node never in two at once.
  private async loop(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      const term = this.term;
      if (!term || !this.election.isLeader || this.feed.resyncs <= term.resyncsAtStart) {
        if (!term) this.dirty.clear(); // a future term lists everything again
        await this.wakeup.wait(1_000, signal);
        continue;
      }
      try {
        if (!term.ready) {
          await Promise.all([...this.draining]);
          await this.beginTerm(term);
          backoff.reset();
          continue;
        }
        if (this.partitionPending) {
          await this.raisePartition(this.partitionPending, term);
          this.partitionPending = undefined;
          continue;
        }
        const next = this.dirty.entries().next();
        if (next.done) {
          if (this.syncPending) {
            this.syncPending = false;
            this.log.info({ statuses: this.statuses.size, resyncs: this.feed.resyncs }, 'in sync');
            this.changed();
          }
          await this.wakeup.wait(1_000, signal);
          continue;
        }
        // Up to RECONCILE_BATCH distinct nodes at once (a node is never in two reconciles): one round
        // trip and fsync per node one after another made a first sync of 10,000 nodes take ~17 s.
        const batch = [...take(this.dirty, RECONCILE_BATCH)];
        for (const [node] of batch) this.dirty.delete(node);
        const results = await Promise.allSettled(batch.map(([node, d]) => this.reconcile(node, d, term)));
        let failure: unknown;
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') return;
          const [node, d] = batch[i]!;
          if (this.term === term && !this.dirty.has(node)) this.dirty.set(node, d);
          failure ??= r.reason;
        });
        if (failure !== undefined) throw failure;
        backoff.reset();
      } catch (err) {
        if (!isRetryable(err)) this.log.error({ err }, 'reconcile failed');
        else this.log.warn({ err }, 'etcd not answering; will retry');
        await sleep(backoff.next(), signal);
      }
    }
  }

  // Takeover: our status records, the unfinished reactions, every node marked for comparison.
  private async beginTerm(term: Term): Promise<void> {
    const [statuses, reactions] = await Promise.all([
      readAgain(() => this.journal.loadStatuses()),
      readAgain(() => this.journal.loadReactions()),
    ]);
    if (this.term !== term) return;
    this.statuses = statuses;
    // Whatever the previous leader raised for a mass failure in progress stands: do not raise it again.
    this.guard.evaluate(this.population(), Date.now());
    term.reactor.seed(reactions);
    for (const n of [...this.model.names(), ...statuses.keys()]) if (!this.dirty.has(n)) this.dirty.set(n, { by: 'resync' });
    term.ready = true;
    this.syncPending = true;
    const open = reactions.filter((r) => r.record.state === 'pending' || r.record.state === 'running');
    this.log.info({ nodes: this.dirty.size, statuses: statuses.size, resumed: open.length }, 'leading: reconciling');
    for (const r of open) term.reactor.submit(r, term.controller.signal);
  }

  private async reconcile(node: string, d: Dirty, term: Term): Promise<void> {
    const live = this.model.live.get(node);
    const overdue = this.overdue.get(node);
    if (overdue && live?.lease !== overdue) this.overdue.delete(node); // its key is gone (or rewritten)
    const obs = {
      node,
      ...(live ? { live } : {}),
      ...(this.model.identity.has(node) ? { identity: this.model.identity.get(node)! } : {}),
      identityUnreadable: this.model.badIdentity.has(node),
      ...(d.deleted ? { deleted: d.deleted } : {}),
      ...(overdue && live?.lease === overdue ? { overdue } : {}),
    };
    const st = this.statuses.get(node);
    let decision = decide(obs, st?.record, new Date(), d.by);
    if (decision.checkLease) {
      const { ttl } = await readAgain(() => this.store.timeToLive(decision.checkLease!));
      decision = decide(obs, st?.record, new Date(), d.by, ttl);
    }
    if (decision.recheckAfterMs !== undefined) {
      this.log.info({ node, recheckMs: decision.recheckAfterMs }, 'live key gone but its lease lives (deleted by hand?); looking again later');
      this.later(node, decision.recheckAfterMs);
    }
    if (!(await this.judgeRevocation(node, decision, d, st?.record))) return;
    if (this.term !== term) return;
    const settled = decision.status ?? st?.record;
    if (!decision.status && decision.events.length === 0) {
      this.audit(term, node, settled);
      return;
    }
    const now = Date.now();
    const events = decision.events.map((e) => this.withHooks(e, term));
    const reactions = events.flatMap((e) => this.reactionsFor(e, term, now));
    const res = await this.recordTogether(node, st?.modRevision ?? '0', decision.status, events, reactions, term);
    if (!res.ok) {
      if (res.why === 'conflict') {
        // Someone else (a previous leader's late write) changed the status: read it and compare again.
        const fresh = await readAgain(() => this.journal.loadStatus(node));
        if (this.term !== term) return;
        if (fresh) this.statuses.set(node, fresh);
        else this.statuses.delete(node);
        if (!this.dirty.has(node)) this.dirty.set(node, d);
      }
      return;
    }
    if (decision.status) this.statuses.set(node, { record: decision.status, modRevision: res.revision });
    this.noteTransition(term, node, events, d, st?.record, decision.status);
    this.audit(term, node, settled);
    for (const e of events) this.announce(e);
    for (const r of reactions) term.reactor.submit({ record: r, modRevision: res.revision }, term.controller.signal);
    if (events.some((e) => e.event === 'NodeFailed' || e.event === 'NodeRecovered')) this.checkGuard();
    const overdueFailed = events.find((e) => e.event === 'NodeFailed' && e.detectedBy === 'audit');
    // Recorded: now revoke the lease etcd left behind, so its keys go too (etcd may refuse again: logged).
    if (overdueFailed) {
      await readAgain(() => this.store.revoke(overdueFailed.lease)).catch((err) =>
        this.log.warn({ err, node, lease: overdueFailed.lease }, 'overdue lease not revoked'),
      );
    }
  }

  // Look at a node again after `ms`.
  private later(node: string, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.dirty.has(node)) this.dirty.set(node, { by: 'resync' });
      this.wakeup.wake();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // The lease audit follows the lease of every node the leader records up.
  private audit(term: Term, node: string, status: StatusRecord | undefined): void {
    if (!term.audit) return;
    const up = status && (status.state === 'up' || status.state === 'leaving');
    const ttlS = this.model.live.get(node)?.record?.ttl ?? DEFAULT_NODE_TTL_S;
    term.audit.observe(node, up ? status.lease : undefined, ttlS * 1000);
  }

  /**
   * Tell "etcd revoked a lease its holder kept alive" from "the holder died" (issue: etcd-io/etcd#15247).
   * A NodeFailed is held back when etcd was seen revoking this watcher's own witness leases around the
   * same time; a node that registers again within the hold gets a LeaseRevoked event instead (no remedy),
   * one that does not is reported failed when the hold ends. Mutates `decision`; false: record nothing now.
   */
  private async judgeRevocation(node: string, decision: Decision, d: Dirty, prev: StatusRecord | undefined): Promise<boolean> {
    const h = this.held.get(node);
    const back = decision.status && (decision.status.state === 'up' || decision.status.state === 'leaving') ? decision.status : undefined;
    const failed = decision.events.find((e) => e.event === 'NodeFailed' && e.detectedBy !== 'audit');
    if (failed) {
      if (h && h.lease === failed.lease) {
        if (Date.now() < h.until) return false; // still holding; the timer looks again
        this.held.delete(node);
        this.log.info({ node, lease: h.lease, heldMs: Date.now() - h.seenAt }, 'held failure: node did not register again');
        return true;
      }
      const seenAt = Date.now();
      const evidence = await this.etcdRevoking(seenAt);
      if (!evidence) return true;
      const ttlS = d.deleted?.record?.ttl ?? DEFAULT_NODE_TTL_S;
      const holdMs = Math.ceil((ttlS * 1000) / 3) + REREGISTER_ALLOWANCE_MS;
      if (h) clearTimeout(h.timer);
      this.held.set(node, {
        lease: failed.lease,
        seenAt,
        until: seenAt + holdMs,
        by: failed.detectedBy,
        bootId: failed.bootId,
        address: failed.address,
        evidence,
        timer: this.later(node, holdMs + 10),
      });
      this.log.warn({ node, lease: failed.lease, holdMs, ...evidence }, 'lease gone while etcd revokes live leases: holding the failure');
      return false;
    }
    // Up under a new lease while the witnesses saw etcd revoke live leases, and no failure was held for it
    // (the wave also took the election lease: the new leader finds the node already back): the same story.
    if (!h && back && prev?.state === 'up' && back.lease !== prev.lease) {
      const seenAt = Date.now();
      const evidence = await this.etcdRevoking(seenAt);
      if (evidence) {
        decision.events.push({
          schema: SCHEMA_VERSION,
          id: eventId('LeaseRevoked', node, prev.lease),
          event: 'LeaseRevoked',
          node,
          lease: prev.lease,
          bootId: prev.bootId,
          address: prev.address,
          time: new Date(seenAt).toISOString(),
          reason: 'RevokedByEtcd',
          detectedBy: d.by,
          previous: 'up',
          evidence,
        });
      }
      return true;
    }
    // Back within the hold under a new lease: etcd ended that registration, not the node.
    if (h && back && back.lease !== h.lease) {
      clearTimeout(h.timer);
      this.timers.delete(h.timer);
      this.held.delete(node);
      const now = new Date();
      const reregisteredAfterMs = now.getTime() - h.seenAt;
      decision.events.push({
        schema: SCHEMA_VERSION,
        id: eventId('LeaseRevoked', node, h.lease),
        event: 'LeaseRevoked',
        node,
        lease: h.lease,
        bootId: h.bootId,
        address: h.address,
        time: now.toISOString(),
        reason: 'RevokedByEtcd',
        detectedBy: h.by,
        previous: 'up',
        evidence: { ...h.evidence, reregisteredAfterMs },
      });
    }
    return true;
  }

  // Evidence that etcd is revoking live leases now: a witness lease revoked within the window. After a
  // recent leader change the witnesses get a fresh keepalive round first (the wave may still be landing).
  private async etcdRevoking(at: number): Promise<Omit<RevocationEvidence, 'reregisteredAfterMs'> | undefined> {
    const evidence = () => {
      const r = this.witness.since(at - WITNESS_WINDOW_MS);
      if (r.revoked === 0) return undefined;
      return { witnessesRevoked: r.revoked, ...(r.termChangedAt !== undefined ? { termChangedMsBefore: at - r.termChangedAt } : {}) };
    };
    const now = evidence();
    if (now) return now;
    const changed = this.witness.since(at).termChangedAt;
    if (changed === undefined || at - changed > TERM_SUSPECT_MS) return undefined;
    await sleep(WITNESS_SETTLE_MS);
    await this.witness.probe();
    return evidence();
  }

  // Record a transition together with the others of the same batch that reach this point in the same
  // tick: one transaction for many nodes (each status compared at its own revision), so a first sync of
  // 10,000 nodes costs etcd ~300 transactions, not 10,000 (measured: 0.3 s instead of 2.3 s with 64 in
  // flight). All or nothing: when the shared transaction fails or is refused, each is recorded alone.
  private recordTogether(
    node: string,
    statusMod: string,
    status: StatusRecord | undefined,
    events: NodeEvent[],
    reactions: ReactionRecord[],
    term: Term,
  ): Promise<WriteResult> {
    if (!status) return this.record(node, statusMod, status, events, reactions, term);
    return new Promise((resolve, reject) => {
      if (this.pendingRecords.length === 0) setImmediate(() => void this.flushRecords(term));
      this.pendingRecords.push({ item: { node, statusMod, status, events, reactions }, resolve, reject });
    });
  }

  private async flushRecords(term: Term): Promise<void> {
    const all = this.pendingRecords;
    this.pendingRecords = [];
    const alone = async (p: PendingRecord) => {
      const { node, statusMod, status, events, reactions } = p.item;
      await this.record(node, statusMod, status, events, reactions, term).then(p.resolve, p.reject);
    };
    // etcd's default --max-txn-ops is 128 (compares and operations each): stay well below.
    const chunks: PendingRecord[][] = [];
    let ops = 0;
    for (const p of all) {
      const n = 1 + p.item.events.length + p.item.reactions.length;
      if (chunks.length === 0 || ops + n > 100) (chunks.push([]), (ops = 0));
      chunks[chunks.length - 1]!.push(p);
      ops += n;
    }
    await Promise.all(
      chunks.map(async (chunk) => {
        if (chunk.length === 1) return alone(chunk[0]!);
        let res: WriteResult | undefined;
        try {
          res = await this.journal.recordTransitions(chunk.map((p) => p.item));
        } catch (err) {
          // It may have landed (all or nothing): read back one status it wrote.
          const first = chunk[0]!.item;
          const kv = isRetryable(err) ? await readAgain(() => this.store.get(this.keys.status(first.node))).catch(() => undefined) : undefined;
          if (kv && kv.value.toString() === JSON.stringify(first.status)) res = { ok: true, revision: kv.modRevision };
        }
        if (res?.ok || res?.why === 'not-leader') for (const p of chunk) p.resolve(res);
        else await Promise.all(chunk.map(alone));
      }),
    );
  }

  // Record a transition. When etcd does not answer, the transaction may still have been applied: read
  // back a key it wrote (values carry millisecond timestamps, so equality proves it was this write). If it
  // landed, go on as if it had answered (else its events would be neither printed nor acted on until a
  // takeover); if it did not, it is safe to send it again at once (another member may answer).
  private async record(
    node: string | undefined,
    statusMod: string,
    status: StatusRecord | undefined,
    events: NodeEvent[],
    reactions: ReactionRecord[],
    term: Term,
  ): Promise<WriteResult> {
    const [key, value] =
      node !== undefined && status
        ? [this.keys.status(node), JSON.stringify(status)]
        : [this.keys.watcherEvent(events[0]!.id), JSON.stringify(events[0])];
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.journal.recordTransition(node, statusMod, status, events, reactions);
      } catch (err) {
        if (!isRetryable(err) || attempt >= 3 || this.term !== term) throw err;
        const kv = await readAgain(() => this.store.get(key));
        if (kv && kv.value.toString() === value) return { ok: true, revision: kv.modRevision };
      }
    }
  }

  private withHooks(e: EventDraft, term: Term): NodeEvent {
    const hooks = Object.fromEntries(term.reactor.hooksFor(e.event).map((h) => [h.name, { state: 'pending' as const }]));
    return { ...e, hooks };
  }

  private reactionsFor(e: NodeEvent, term: Term, now: number): ReactionRecord[] {
    const iso = new Date(now).toISOString();
    return term.reactor.hooksFor(e.event).map((h) => {
      // Remedies for a failure wait out the hold, so failures arriving together are judged together.
      const hold = e.event === 'NodeFailed' && !h.alertOnly ? this.cfg.watcher.massFailure.holdMs : 0;
      const { hooks: _hooks, ...event } = e;
      return {
        schema: SCHEMA_VERSION,
        id: reactionId(e.id, h.name),
        hook: h.name,
        event,
        state: 'pending',
        notBefore: new Date(now + hold).toISOString(),
        owner: null,
        attempts: [],
        outcome: { state: 'pending' },
        createdAt: iso,
        updatedAt: iso,
      };
    });
  }

  // One JSON line per event on stdout: the interface scripts read.
  private announce(e: NodeEvent): void {
    this.counters.events++;
    this.observer.event?.(e);
    const { schema: _schema, hooks, event, node, time, ...rest } = e;
    this.log.info({ event, node, time, ...rest, hooks: Object.keys(hooks) }, 'node event');
  }

  private population(): Population {
    let up = 0;
    const failed: Population['failed'] = [];
    for (const { record: s } of this.statuses.values()) {
      if (s.state === 'up' || s.state === 'leaving') up++;
      else if (s.state === 'failed') failed.push({ node: s.node, at: Date.parse(s.since) });
    }
    return { up, failed };
  }

  // Evaluate the mass-failure guard; a transition into the tripped state raises PartitionSuspected once.
  private checkGuard(): GuardState {
    const g = this.guard.evaluate(this.population(), Date.now());
    if (g.changed && g.tripped) {
      this.log.warn({ failed: g.nodes.length, known: g.known, nodes: g.nodes }, 'mass failure: remedy hooks suspended');
      this.partitionPending = g;
      this.wakeup.wake();
    } else if (g.changed) {
      this.log.info({ failed: g.nodes.length, known: g.known }, 'mass-failure guard released: remedy hooks resume');
    }
    if (g.changed) this.changed();
    return g;
  }

  private async raisePartition(g: GuardState, term: Term): Promise<void> {
    const now = Date.now();
    const draft: EventDraft = {
      schema: SCHEMA_VERSION,
      id: `PartitionSuspected.${now}`,
      event: 'PartitionSuspected',
      node: '*',
      time: new Date(now).toISOString(),
      reason: 'MassFailure',
      detectedBy: 'watch',
      lease: '',
      bootId: '',
      address: '',
      previous: 'unknown',
      nodes: g.nodes,
      failed: g.nodes.length,
      known: g.known,
    };
    const event = this.withHooks(draft, term);
    const reactions = this.reactionsFor(event, term, now);
    const res = await this.record(undefined, '0', undefined, [event], reactions, term);
    if (!res.ok) return;
    this.announce(event);
    const others = (n: string) => g.nodes.filter((x) => x !== n);
    for (const n of g.nodes) {
      term.history.note(n, {
        time: event.time,
        what: 'PartitionSuspected',
        detail: `${g.nodes.length} of ${g.known} known nodes failed within the window (with ${others(n).join(', ') || 'no other'}): remedy hooks suspended`,
        id: event.id,
      });
    }
    for (const r of reactions) term.reactor.submit({ record: r, modRevision: res.revision }, term.controller.signal);
  }

  // What the history says of a recorded transition: the registration, how its end was seen and at which
  // etcd revision, and an etcd leader change shortly before a loss (leases restart then: late detection).
  private noteTransition(
    term: Term,
    node: string,
    events: NodeEvent[],
    d: Dirty,
    prev: StatusRecord | undefined,
    next: StatusRecord | undefined,
  ): void {
    const entries: HistoryEntry[] = [];
    const live = this.model.live.get(node);
    let loss = false;
    // A new lease while up raises no event (same boot: the agent restarted, or lost its lease and took a new one).
    if (next?.reason === 'Reregistered' && prev && prev.lease !== next.lease && live?.record) {
      const r = live.record;
      entries.push({
        time: next.lastSeen,
        what: 'Reregistered',
        detail: `registered again under a new lease without a failure in between: lease ${prev.lease || '-'} -> ${next.lease}, TTL ${r.ttl} s, agent pid ${r.pid}, registered at ${r.registeredAt}`,
        revision: live.modRevision,
      });
    }
    for (const e of events) {
      const how = e.detectedBy === 'watch' ? 'seen in a watch event' : e.detectedBy === 'audit' ? 'found by the lease audit' : 'found when comparing after a start, takeover or gap';
      let detail: string;
      let revision: string | undefined;
      switch (e.event) {
        case 'NodeJoined':
        case 'NodeRecovered': {
          const r = live?.record;
          const reg = r
            ? `lease ${e.lease}, TTL ${r.ttl} s, boot id ${r.bootId}, address ${r.address} (${r.addressSource}), agent ${r.agentVersion} pid ${r.pid}, registered at ${r.registeredAt}`
            : `lease ${e.lease}, boot id ${e.bootId}, address ${e.address}`;
          const after = e.event === 'NodeRecovered' ? ` after ${Math.round((e.downtimeMs ?? 0) / 1000)} s failed` : e.reason === 'Rejoined' ? ' after a leave' : '';
          detail = `registered${after}: ${reg}; ${how}`;
          revision = live?.modRevision;
          break;
        }
        case 'NodeFailed':
          loss = true;
          detail =
            e.detectedBy === 'audit'
              ? `lease ${e.lease} expired without a leave marker, but etcd had not revoked it; ${how}, which revokes it`
              : `lease ${e.lease} expired (or was revoked) without a leave marker: etcd deleted the live key; ${how}${prev?.lastSeen ? `; last seen up at ${prev.lastSeen}` : ''}`;
          revision = d.by === 'watch' ? d.deleted?.revision : undefined;
          break;
        case 'NodeLeft':
          loss = true;
          detail = `left gracefully: the agent marked lease ${e.lease} leaving, then revoked it; ${how}`;
          revision = d.by === 'watch' ? d.deleted?.revision : undefined;
          break;
        case 'NodeRebooted':
          detail = `boot id changed from ${e.previousBootId || '-'} to ${e.bootId || '-'}`;
          break;
        case 'LeaseRevoked': {
          loss = true;
          const ev = e.evidence;
          detail = `etcd, not the node, ended lease ${e.lease}: ${ev?.witnessesRevoked ?? 0} witness leases kept alive by the watcher were revoked too${ev?.reregisteredAfterMs !== undefined ? `; registered again ${ev.reregisteredAfterMs} ms later` : ''}; no remedy`;
          break;
        }
        default:
          detail = `${e.reason}; ${how}`;
      }
      entries.push({ time: e.time, what: e.event, detail, id: e.id, ...(revision ? { revision } : {}) });
    }
    const now = Date.now();
    const changed = loss ? this.witness.since(now).termChangedAt : undefined;
    if (changed !== undefined && now - changed <= TERM_SUSPECT_MS) {
      entries.push({
        time: new Date(changed).toISOString(),
        what: 'EtcdLeaderChanged',
        detail: `etcd elected a new leader (its raft term went up) ${Math.round((now - changed) / 1000)} s before this was seen: a new etcd leader restarts every lease, so a death around it is seen up to election + TTL + 1.5 s late`,
      });
    }
    term.history.note(node, ...entries);
  }

  // Condition changes the watch shows, for the node's history (a record gone with its lease says nothing new).
  private noteConditions(node: string, before: ConditionsRecord | undefined, after: ConditionsRecord | undefined): void {
    const h = this.term?.history;
    if (!h || !after) return;
    const entries: HistoryEntry[] = [];
    for (const c of after.conditions) {
      const b = before?.conditions.find((x) => x.type === c.type);
      const was = b?.status ?? 'False';
      if (was === c.status && (!b || b.reason === c.reason)) continue;
      entries.push({ time: c.lastTransitionTime, what: 'ConditionChanged', detail: `${c.type} ${was} -> ${c.status} (${c.reason})${c.message ? `: ${c.message}` : ''}` });
    }
    h.note(node, ...entries);
  }

  private noteMaintenance(node: string, before: MaintenanceRecord | undefined, after: MaintenanceRecord | undefined): void {
    const h = this.term?.history;
    if (!h) return;
    const text = (m: MaintenanceRecord) =>
      [...(m.reason !== null ? [`node: ${m.reason}`] : []), ...Object.entries(m.services).map(([s, why]) => `${s}: ${why}`)].join('; ');
    if (!after) {
      h.note(node, { time: new Date().toISOString(), what: 'Maintenance', detail: `maintenance ended (was ${before ? text(before) : 'unknown'})` });
      return;
    }
    if (before && text(before) === text(after)) return;
    h.note(node, { time: after.updatedAt, what: 'Maintenance', detail: `maintenance ${before ? 'changed' : 'started'}: ${text(after) || 'no reason given'}` });
  }

  /** Invalid records: keys refused right now (node and service keys), and distinct refusals so far. */
  invalidRecords(): { current: number; total: number } {
    return { current: this.rejections.invalidNow, total: this.rejections.total };
  }
}

// The first `n` entries of a map, in insertion order.
function* take<K, V>(m: Map<K, V>, n: number): Generator<[K, V]> {
  if (n <= 0) return;
  for (const e of m) {
    yield e;
    if (--n <= 0) return;
  }
}

// Reads are safe to repeat at once: each call may reach another member, and a dead one refuses instantly.
async function readAgain<T>(read: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await read();
    } catch (err) {
      if (i >= attempts || !isRetryable(err)) throw err;
    }
  }
}
