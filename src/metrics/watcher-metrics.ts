// The watcher's metrics. Events and hook outcomes are counted as the leader records them (observer
// calls); leadership, etcd reachability, resyncs and known nodes are read from the watcher when scraped.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HookOutcome, NodeEvent } from '../types.js';
import type { SeenState, WatcherObserver } from '../watcher/watcher.js';

/** What the watcher tells its metrics when scraped. */
export interface WatcherState {
  readonly isLeader: boolean;
  readonly etcdAnswering: boolean;
  stats(): { resyncs: number };
  nodeStates(): Map<string, SeenState>;
  invalidRecords?(): { current: number; total: number };
}

const SEEN_STATES: readonly SeenState[] = ['up', 'leaving', 'left', 'failed', 'unknown'];

/** Registers the watcher's metrics in `registry`; pass it to the Watcher as its observer, then `follow` it. */
export class WatcherMetrics implements WatcherObserver {
  private readonly events: Counter<'type' | 'reason'>;
  private readonly outcomes: Counter<'hook' | 'outcome'>;
  private source: WatcherState | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    const self = () => this.source;
    this.events = new Counter({
      name: 'beacon_watcher_events_total',
      help: 'Node events recorded by this watcher while leader, by event type and reason.',
      labelNames: ['type', 'reason'],
      registers,
    });
    this.outcomes = new Counter({
      name: 'beacon_watcher_hook_outcomes_total',
      help: 'Final outcomes of hook reactions run by this watcher while leader: ok, failed, timeout or suppressed.',
      labelNames: ['hook', 'outcome'],
      registers,
    });
    let seenResyncs = 0;
    new Counter({
      name: 'beacon_watcher_resyncs_total',
      help: 'Full listings of the node keys: the first one, and one after each watch gap (disconnect, compaction, failed probe, takeover).',
      registers,
      collect() {
        const now = self()?.stats().resyncs ?? 0;
        if (now > seenResyncs) this.inc(now - seenResyncs);
        seenResyncs = Math.max(seenResyncs, now);
      },
    });
    new Gauge({
      name: 'beacon_watcher_leader',
      help: 'Whether this watcher leads (1: records events and runs hooks) or stands by (0).',
      registers,
      collect() {
        this.set(self()?.isLeader ? 1 : 0);
      },
    });
    new Gauge({
      name: 'beacon_watcher_etcd_up',
      help: 'Whether etcd answers this watcher (1) or its last probe, listing or watch failed (0).',
      registers,
      collect() {
        this.set(self()?.etcdAnswering ? 1 : 0);
      },
    });
    new Gauge({
      name: 'beacon_watcher_nodes',
      help: 'Known nodes by state in this watcher\'s copy of the registry: up, leaving, left, failed (valid records only), unknown (live record or identity fails the schema).',
      labelNames: ['status'],
      registers,
      collect() {
        const counts = new Map<SeenState, number>(SEEN_STATES.map((s) => [s, 0]));
        for (const s of self()?.nodeStates().values() ?? []) counts.set(s, (counts.get(s) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'beacon_watcher_invalid_records',
      help: 'Node and service keys whose current value fails the record schema (schema/v1/) or is not a key beacon writes: skipped by this watcher.',
      registers,
      collect() {
        this.set(self()?.invalidRecords?.().current ?? 0);
      },
    });
    let seenInvalid = 0;
    new Counter({
      name: 'beacon_watcher_invalid_records_total',
      help: 'Distinct (key, mod revision) values this watcher refused: each counted once however often it is read again.',
      registers,
      collect() {
        const now = self()?.invalidRecords?.().total ?? 0;
        if (now > seenInvalid) this.inc(now - seenInvalid);
        seenInvalid = Math.max(seenInvalid, now);
      },
    });
  }

  /** Read state from this watcher from now on. */
  follow(watcher: WatcherState): void {
    this.source = watcher;
  }

  /** WatcherObserver: count a recorded event. */
  event(e: NodeEvent): void {
    this.events.inc({ type: e.event, reason: e.reason });
  }

  /** WatcherObserver: count a final hook outcome. */
  hookOutcome(hook: string, outcome: HookOutcome): void {
    this.outcomes.inc({ hook, outcome: outcome.state });
  }
}
