// The leader's work. While this watcher leads, it compares its copy of the node keys with its status
// records, one batch of marked nodes at a time, and records each transition with its events and
// reactions in one transaction; then it prints the events (one JSON line each) and hands the reactions to
// the term's reactor. A new term starts from a fresh listing: it loads the status records and the
// unfinished reactions, resumes those, and compares every node (level-triggered: nothing is reported
// twice, and a death missed while no watcher led is reported then).
import type { Logger } from 'pino';
import type { ConditionsRecord, MaintenanceRecord } from '../agent/records.js';
import { isRetryable } from '../errors.js';
import { Backoff, Wakeup, sleep } from '../util/time.js';
import { decide } from './classify.js';
import { partitionEvent, reactionsFor, withHooks } from './event-records.js';
import type { NodeFeed } from './feed.js';
import { conditionEntries, maintenanceEntries, partitionEntries, transitionEntries } from './history-notes.js';
import { MassFailureAlarm } from './mass-failure-alarm.js';
import type { DeletedLive, NodeModel } from './model.js';
import { readAgain } from './read-again.js';
import { ReconcileQueue, type Dirty } from './reconcile-queue.js';
import type { Versioned } from './record-keeper.js';
import type { HookOutcome, NodeEvent, StatusRecord } from './records.js';
import { ASSUMED_NODE_TTL_S, RevocationJudge } from './revocation.js';
import type { GuardState } from './safety.js';
import { closeTerm, openTerm, type Term, type TermParts } from './term.js';
import { TransitionRecorder } from './transition-recorder.js';
import type { Witness } from './witness.js';

// Nodes reconciled at once by the leader: one node at a time costs a round trip and an fsync each (~17 s
// for a first sync of 10,000 nodes), while etcd commits concurrent transactions with one fsync.
const RECONCILE_BATCH = 64;

/** Sees what the watcher does as it happens (metrics); every method optional, none may throw. */
export interface WatcherObserver {
  /** An event was recorded and announced (leader only). */
  event?(e: NodeEvent): void;
  /** A hook's reaction reached its final outcome (leader only). */
  hookOutcome?(hook: string, outcome: HookOutcome): void;
}

/** What the leader works with: the watcher's parts, shared with its standby side. */
export interface ReconcilerDeps extends TermParts {
  observer: WatcherObserver;
  model: NodeModel;
  feed: NodeFeed;
  witness: Witness;
  /** The watcher's logger (component `watcher`). */
  log: Logger;
  /** The leader's own state changed (role, sync, mass failure): tell the watcher's listeners. */
  changed(): void;
}

/** Compares and records while this watcher leads; idle (its queue empty) while it stands by. */
export class Reconciler {
  private readonly alarm: MassFailureAlarm;
  private readonly wakeup = new Wakeup();
  private readonly queue = new ReconcileQueue();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly draining = new Set<Promise<void>>();
  private readonly revocation: RevocationJudge;
  private readonly recorder: TransitionRecorder;
  /** Leases the audit found expired and not revoked, by node (until the key under it is gone). */
  private readonly overdue = new Map<string, string>();
  private statuses = new Map<string, Versioned<StatusRecord>>();
  private term: Term | undefined;
  /** A listing or a takeover marked every node: say `in sync` once they are all compared. */
  private syncPending = false;
  /** Events recorded and announced so far. */
  events = 0;

  constructor(private readonly deps: ReconcilerDeps) {
    this.alarm = new MassFailureAlarm(deps.cfg.watcher.massFailure, { tripped: () => this.wakeup.wake(), changed: deps.changed }, deps.log);
    this.recorder = new TransitionRecorder(deps.records, deps.store, deps.keys);
    this.revocation = new RevocationJudge({
      witness: deps.witness,
      log: deps.log,
      later: (node, ms) => this.later(node, ms),
      cancel: (t) => {
        clearTimeout(t);
        this.timers.delete(t);
      },
    });
  }

  /** Whether the leader has compared every node of the latest listing (always true while standing by). */
  get caughtUp(): boolean {
    const term = this.term;
    if (!term || !this.deps.election.isLeader) return true;
    return term.ready && !this.syncPending && this.queue.size === 0;
  }

  /** Whether the mass-failure guard holds remedy hooks back now (leader only; false on a standby). */
  get massFailureTripped(): boolean {
    return this.term !== undefined && this.alarm.isTripped;
  }

  /** Elected: end any term left over and start a new one, from a fresh listing. */
  startTerm(): void {
    this.endTerm('new term');
    const { deps } = this;
    this.term = openTerm({
      ...deps,
      resyncs: deps.feed.resyncs,
      guard: () => this.alarm.check(this.statuses),
      stillFailed: (node, lease) => {
        const s = this.statuses.get(node)?.record;
        return s !== undefined && s.state === 'failed' && s.lease === lease;
      },
      hookOutcome: (hook, outcome) => deps.observer.hookOutcome?.(hook, outcome),
      audit: {
        overdue: (node, lease) => {
          this.overdue.set(node, lease);
          this.queue.mark(node);
          this.wakeup.wake();
        },
        // Only when the watch copy still shows the key under that lease: a DELETE seen but not yet
        // reconciled (a backlog after a mass failure) is no reason to list everything again.
        missedDelete: (node, lease) => {
          if (deps.model.live.get(node)?.lease === lease) {
            deps.feed.requestResync(`lease audit: lease of ${node.slice(0, 100)} gone, its key still in the watch copy`);
          }
        },
      },
    });
    this.statuses = new Map();
    // Work only from a listing taken after the election: the copy may predate a gap.
    this.deps.feed.requestResync('elected leader');
    this.wakeup.wake();
    this.deps.changed();
  }

  /** Deposed or shutting down: stop the term's work (released in the background; `release` waits for it). */
  endTerm(reason: string): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    const d = closeTerm(term, reason).finally(() => this.draining.delete(d));
    this.draining.add(d);
    this.statuses = new Map();
    this.alarm.settle();
    this.revocation.clear();
    this.overdue.clear();
    this.deps.log.info({ reason }, 'leadership term ended');
    this.deps.changed();
  }

  /** The feed listed the node keys again: compare every node it names. */
  onResync(nodes: Set<string>): void {
    for (const n of nodes) this.queue.mark(n);
    this.syncPending = true;
    this.wakeup.wake();
    this.deps.changed();
  }

  /** The feed applied one watch response. */
  onChanges(touched: { node: string; deleted?: DeletedLive }[]): void {
    for (const t of touched) this.queue.watched(t.node, t.deleted);
    this.wakeup.wake();
    this.deps.changed();
  }

  /** A node's conditions record changed in the copy: the leader notes it in the node's history. */
  noteConditions(node: string, before: ConditionsRecord | undefined, after: ConditionsRecord | undefined): void {
    this.term?.history.note(node, ...conditionEntries(before, after));
  }

  /** A node's maintenance record changed in the copy: the leader notes it in the node's history. */
  noteMaintenance(node: string, before: MaintenanceRecord | undefined, after: MaintenanceRecord | undefined): void {
    this.term?.history.note(node, ...maintenanceEntries(before, after, new Date()));
  }

  /** The single worker: only the leader reconciles; a batch of distinct nodes at a time. Returns when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      const term = this.term;
      if (!term || !this.deps.election.isLeader || this.deps.feed.resyncs <= term.resyncsAtStart) {
        if (!term) this.queue.clear(); // a future term lists everything again
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
        const trip = this.alarm.pendingTrip;
        if (trip) {
          await this.raisePartition(trip, term);
          this.alarm.settle();
          continue;
        }
        if (this.queue.size === 0) {
          if (this.syncPending) {
            this.syncPending = false;
            this.deps.log.info({ statuses: this.statuses.size, resyncs: this.deps.feed.resyncs }, 'in sync');
            this.deps.changed();
          }
          await this.wakeup.wait(1_000, signal);
          continue;
        }
        const batch = this.queue.take(RECONCILE_BATCH);
        const results = await Promise.allSettled(batch.map(([node, d]) => this.reconcile(node, d, term)));
        let failure: unknown;
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') return;
          const [node, d] = batch[i]!;
          if (this.term === term) this.queue.mark(node, d);
          failure ??= r.reason;
        });
        if (failure !== undefined) throw failure;
        backoff.reset();
      } catch (err) {
        if (!isRetryable(err)) this.deps.log.error({ err }, 'reconcile failed');
        else this.deps.log.warn({ err }, 'etcd not answering; will retry');
        await sleep(backoff.next(), signal);
      }
    }
  }

  /** After `run` and the last `endTerm`: cancel the timers and wait for the ended terms to be released. */
  async release(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.draining]);
  }

  // Takeover: our status records, the unfinished reactions, every node marked for comparison.
  private async beginTerm(term: Term): Promise<void> {
    const [statuses, reactions] = await Promise.all([
      readAgain(() => this.deps.records.loadStatuses()),
      readAgain(() => this.deps.records.loadReactions()),
    ]);
    if (this.term !== term) return;
    this.statuses = statuses;
    this.alarm.resume(statuses);
    term.reactor.seed(reactions);
    for (const n of [...this.deps.model.names(), ...statuses.keys()]) this.queue.mark(n);
    term.ready = true;
    this.syncPending = true;
    const open = reactions.filter((r) => r.record.state === 'pending' || r.record.state === 'running');
    this.deps.log.info({ nodes: this.queue.size, statuses: statuses.size, resumed: open.length }, 'leading: reconciling');
    for (const r of open) term.reactor.submit(r, term.controller.signal);
  }

  private async reconcile(node: string, d: Dirty, term: Term): Promise<void> {
    const { model, store, records } = this.deps;
    const live = model.live.get(node);
    const overdue = this.overdue.get(node);
    if (overdue && live?.lease !== overdue) this.overdue.delete(node); // its key is gone (or rewritten)
    const obs = {
      node,
      ...(live ? { live } : {}),
      ...(model.identity.has(node) ? { identity: model.identity.get(node)! } : {}),
      identityUnreadable: model.badIdentity.has(node),
      ...(d.deleted ? { deleted: d.deleted } : {}),
      ...(overdue && live?.lease === overdue ? { overdue } : {}),
    };
    const st = this.statuses.get(node);
    let decision = decide(obs, st?.record, new Date(), d.by);
    if (decision.checkLease) {
      const { ttl } = await readAgain(() => store.timeToLive(decision.checkLease!));
      decision = decide(obs, st?.record, new Date(), d.by, ttl);
    }
    if (decision.recheckAfterMs !== undefined) {
      this.deps.log.info({ node, recheckMs: decision.recheckAfterMs }, 'live key gone but its lease lives (deleted by hand?); looking again later');
      this.later(node, decision.recheckAfterMs);
    }
    if (!(await this.revocation.judge(node, decision, d, st?.record))) return;
    if (this.term !== term) return;
    const settled = decision.status ?? st?.record;
    if (!decision.status && decision.events.length === 0) {
      this.audit(term, node, settled);
      return;
    }
    const now = Date.now();
    const events = decision.events.map((e) => withHooks(e, term.reactor.hooksFor(e.event)));
    const reactions = events.flatMap((e) => reactionsFor(e, term.reactor.hooksFor(e.event), this.deps.cfg.watcher.massFailure.holdMs, now));
    const res = await this.recorder.together(
      { node, statusMod: st?.modRevision ?? '0', status: decision.status, events, reactions },
      term.controller.signal,
    );
    if (!res.ok) {
      if (res.why === 'conflict') {
        // Someone else (a previous leader's late write) changed the status: read it and compare again.
        const fresh = await readAgain(() => records.loadStatus(node));
        if (this.term !== term) return;
        if (fresh) this.statuses.set(node, fresh);
        else this.statuses.delete(node);
        this.queue.mark(node, d);
      }
      return;
    }
    if (decision.status) this.statuses.set(node, { record: decision.status, modRevision: res.revision });
    const seenAt = Date.now();
    term.history.note(
      node,
      ...transitionEntries({ events, d, prev: st?.record, next: decision.status, live: model.live.get(node) }, this.revocation.recentLeaderChange(seenAt), seenAt),
    );
    this.audit(term, node, settled);
    for (const e of events) this.announce(e);
    for (const r of reactions) term.reactor.submit({ record: r, modRevision: res.revision }, term.controller.signal);
    if (events.some((e) => e.event === 'NodeFailed' || e.event === 'NodeRecovered')) this.alarm.check(this.statuses);
    const overdueFailed = events.find((e) => e.event === 'NodeFailed' && e.detectedBy === 'audit');
    // Recorded: now revoke the lease etcd left behind, so its keys go too (etcd may refuse again: logged).
    if (overdueFailed) {
      await readAgain(() => store.revoke(overdueFailed.lease)).catch((err) =>
        this.deps.log.warn({ err, node, lease: overdueFailed.lease }, 'overdue lease not revoked'),
      );
    }
  }

  // Look at a node again after `ms`.
  private later(node: string, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.queue.mark(node);
      this.wakeup.wake();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // The lease audit follows the lease of every node the leader records up.
  private audit(term: Term, node: string, status: StatusRecord | undefined): void {
    if (!term.audit) return;
    const up = status && (status.state === 'up' || status.state === 'leaving');
    const ttlS = this.deps.model.live.get(node)?.record?.ttl ?? ASSUMED_NODE_TTL_S;
    term.audit.observe(node, up ? status.lease : undefined, ttlS * 1000);
  }

  // One JSON line per event on stdout: the interface scripts read.
  private announce(e: NodeEvent): void {
    this.events++;
    this.deps.observer.event?.(e);
    const { schema: _schema, hooks, event, node, time, ...rest } = e;
    this.deps.log.info({ event, node, time, ...rest, hooks: Object.keys(hooks) }, 'node event');
  }

  private async raisePartition(g: GuardState, term: Term): Promise<void> {
    const now = Date.now();
    const draft = partitionEvent(g, now);
    const hooks = term.reactor.hooksFor(draft.event);
    const event = withHooks(draft, hooks);
    const reactions = reactionsFor(event, hooks, this.deps.cfg.watcher.massFailure.holdMs, now);
    const res = await this.recorder.alone({ statusMod: '0', events: [event], reactions }, term.controller.signal);
    if (!res.ok) return;
    this.announce(event);
    for (const [n, entry] of partitionEntries(g, event)) term.history.note(n, entry);
    for (const r of reactions) term.reactor.submit({ record: r, modRevision: res.revision }, term.controller.signal);
  }
}
