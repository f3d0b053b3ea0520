// The node keys followed into a NodeModel (src/etcd/follower.ts lists, watches and finds the gaps): after
// any gap the whole model is handed to the sink again (level-triggered), and etcd's outages are logged once
// each, with their length.
import type { Logger } from 'pino';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { Follower, type FollowGap } from '../etcd/follower.js';
import type { NodeModel, Touched } from './model.js';

/** Timing of the feed. */
export interface FeedOptions {
  /** How often etcd is probed while the watch is quiet. */
  probeIntervalMs: number;
  /** Deadline of one probe attempt, of a listing, and of creating a watch. */
  requestTimeoutMs: number;
}

/** Receives what the feed learns; called synchronously, must not throw. */
export interface FeedSink {
  /** The model was rebuilt from a listing: any of these nodes may have changed. */
  resynced(nodes: Set<string>): void;
  /** One etcd watch response, already applied to the model. */
  changed(touched: Touched[]): void;
}

/** Keeps a NodeModel current. */
export class NodeFeed {
  private readonly follower: Follower;
  private outageSince: number | undefined;
  /** Number of listings taken (the first one, and one after each gap). */
  resyncs = 0;

  /** Whether etcd answers: a listing was taken and no probe, listing or watch failed since. */
  get answering(): boolean {
    return this.resyncs > 0 && this.outageSince === undefined;
  }

  constructor(
    store: Store,
    keys: Keys,
    private readonly model: NodeModel,
    opts: FeedOptions,
    private readonly sink: FeedSink,
    private readonly log: Logger,
  ) {
    this.follower = new Follower(store, keys.nodes, opts, {
      listed: (kvs) => this.listed(kvs),
      events: (evs) => {
        const touched = evs.map((ev) => this.model.apply(ev)).filter((t): t is Touched => t !== undefined);
        if (touched.length > 0) this.sink.changed(touched);
      },
      gap: (gap) => this.gap(gap),
    });
  }

  /** End the current watch and list again (for example after this watcher became leader). */
  requestResync(reason: string): void {
    this.follower.resync(reason);
  }

  /** Run until `signal` aborts; resolves once the watch and the probe timer are released. */
  run(signal: AbortSignal): Promise<void> {
    return this.follower.run(signal);
  }

  private listed(kvs: readonly KeyValue[]): void {
    const touched = this.model.replace(kvs);
    this.resyncs++;
    if (this.outageSince !== undefined) {
      this.log.info({ outageMs: Date.now() - this.outageSince }, 'etcd answering again; resynchronised');
      this.outageSince = undefined;
    }
    this.sink.resynced(touched);
  }

  // A failed listing or watch creation waits (with backoff) before the next listing; any other gap lists
  // again at once, and a failed probe is an outage too.
  private gap(gap: FollowGap): boolean {
    switch (gap.kind) {
      case 'list':
      case 'watch':
        this.noteOutage(gap.err, gap.kind);
        return true;
      case 'probe':
        this.noteOutage(gap.err, 'probe');
        return this.relist('etcd not answering the liveness probe');
      case 'cancelled':
        return this.relist(`watch cancelled: ${gap.err.message}`);
      case 'disconnected':
        return this.relist(`watch disconnected: ${gap.err.message}`);
      case 'silent':
      case 'requested':
        return this.relist(gap.reason);
    }
  }

  private relist(reason: string): false {
    this.log.info({ reason }, 'watch gap: listing again');
    return false;
  }

  private noteOutage(err: unknown, op: string): void {
    if (this.outageSince === undefined) {
      this.outageSince = Date.now();
      this.log.warn({ err, op }, 'etcd not answering');
    } else {
      this.log.debug({ err, op }, 'etcd still not answering');
    }
  }
}
