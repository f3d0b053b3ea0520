// The watcher's composition root. Every watcher keeps a copy of the node keys (feed) and campaigns
// (election); the leader compares that copy with its status records and records each transition with its
// events and reactions (reconciler.ts), prints each event as one JSON line, and runs the hooks (reactor).
// A new leader starts by listing everything again and resuming unfinished reactions.
import type { Logger } from 'pino';
import type { WatcherFileConfig } from '../config/watcher.js';
import type { DecodeError } from '../errors.js';
import { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { leftGracefully } from '../registry/leave.js';
import { Election } from './election.js';
import { NodeFeed } from './feed.js';
import { hookRunners } from './hooks/index.js';
import type { HookRunners } from './hooks/hook.js';
import { NodeModel } from './model.js';
import { Reconciler, type WatcherObserver } from './reconciler.js';
import { RecordKeeper } from './record-keeper.js';
import { Rejections } from './rejections.js';
import { WITNESS_DEFAULTS, Witness } from './witness.js';

export type { WatcherObserver };

/** Counters for operators and tests. */
export interface WatcherStats {
  garbage: number;
  events: number;
  resyncs: number;
}

/** A known node's state in this watcher's copy of the registry (every watcher, leader or not). */
export type SeenState = 'up' | 'leaving' | 'left' | 'failed' | 'unknown';

/** One watcher process's work. */
export class Watcher {
  private readonly log: Logger;
  private readonly model: NodeModel;
  private readonly feed: NodeFeed;
  private readonly election: Election;
  private readonly witness: Witness;
  private readonly reconciler: Reconciler;
  /** Values refused by the codec: logged and counted once per (key, mod revision); also fed by the /http_sd view. */
  readonly rejections: Rejections;
  /** Told when the copy of the registry or this watcher's own state changed (the status page's push). */
  private readonly changeListeners = new Set<() => void>();

  constructor(
    store: Store,
    private readonly cfg: WatcherFileConfig,
    log: Logger,
    runners: HookRunners = hookRunners,
    observer: WatcherObserver = {},
  ) {
    const keys = new Keys(cfg.prefix);
    this.log = log.child({ component: 'watcher', watcher: cfg.watcher.id });
    this.rejections = new Rejections(this.log);
    const garbage = (err: DecodeError, kv: KeyValue) => this.rejections.reject(err, kv, { tracked: false });
    const nodesPrefix = keys.nodes;
    this.model = new NodeModel(keys, {
      reject: (err, kv) => this.rejections.reject(err, kv),
      clear: (key) => this.rejections.clear(key),
      clearAll: () => this.rejections.clearAll((key) => !key.startsWith(nodesPrefix)),
    }, {
      conditions: (node, before, after) => this.reconciler.noteConditions(node, before, after),
      maintenance: (node, before, after) => this.reconciler.noteMaintenance(node, before, after),
    });
    this.feed = new NodeFeed(
      store,
      keys,
      this.model,
      { probeIntervalMs: cfg.watcher.probeIntervalMs, requestTimeoutMs: Math.min(cfg.etcd.requestTimeoutMs, 2_000) },
      { resynced: (nodes) => this.reconciler.onResync(nodes), changed: (touched) => this.reconciler.onChanges(touched) },
      log.child({ component: 'feed' }),
    );
    const ttl = cfg.watcher.electionTtl;
    const interval = Math.floor((ttl * 1000) / 3);
    this.election = new Election(
      store,
      keys,
      { id: cfg.watcher.id, ttl, keepaliveIntervalMs: interval, keepaliveTimeoutMs: Math.min(700, Math.floor(interval / 2)) },
      log.child({ component: 'election' }),
    );
    const records = new RecordKeeper(store, keys, this.election, cfg.watcher.eventRetentionMs, garbage, log.child({ component: 'journal' }));
    this.witness = new Witness(store, WITNESS_DEFAULTS, log.child({ component: 'witness', watcher: cfg.watcher.id }));
    this.reconciler = new Reconciler({
      store,
      keys,
      cfg,
      runners,
      observer,
      model: this.model,
      feed: this.feed,
      election: this.election,
      records,
      witness: this.witness,
      rejections: this.rejections,
      log: this.log,
      rootLog: log,
      changed: () => this.changed(),
    });
  }

  /** Counters so far. */
  stats(): WatcherStats {
    return { events: this.reconciler.events, garbage: this.rejections.total, resyncs: this.feed.resyncs };
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
    return this.feed.answering && this.reconciler.caughtUp;
  }

  /** Whether the mass-failure guard holds remedy hooks back now (leader only; false on a standby). */
  get massFailureTripped(): boolean {
    return this.reconciler.massFailureTripped;
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

  /** Invalid records: keys refused right now (node and service keys), and distinct refusals so far. */
  invalidRecords(): { current: number; total: number } {
    return { current: this.rejections.invalidNow, total: this.rejections.total };
  }

  /** Run until `signal` aborts; resolves after the feed, the election, hooks and timers are released. */
  async run(signal: AbortSignal): Promise<void> {
    this.log.info(
      { prefix: this.cfg.prefix, hooks: this.cfg.hooks.map((h) => `${h.name}(${h.kind})`), electionTtl: this.cfg.watcher.electionTtl },
      'watcher started',
    );
    const onElected = () => this.reconciler.startTerm();
    const onDeposed = (reason: string) => this.reconciler.endTerm(reason);
    this.election.on('elected', onElected);
    this.election.on('deposed', onDeposed);
    try {
      await Promise.all([this.feed.run(signal), this.election.run(signal), this.witness.run(signal), this.reconciler.run(signal)]);
    } finally {
      this.reconciler.endTerm('shutdown');
      this.election.off('elected', onElected);
      this.election.off('deposed', onDeposed);
      await this.reconciler.release();
      this.log.info(this.stats(), 'watcher stopped');
    }
  }
}
