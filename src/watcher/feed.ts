// List-then-watch over the node keys, with resynchronisation after any gap. A gap is: the watch cancelled
// (its revision compacted), its stream broken, the liveness probe failing (etcd3 stays silent on a hung
// server), or the watch's own stream gone silent on a hung member while the probe passes (WatchCheck). After a gap the feed lists again and hands the whole model to its sink (level-triggered), then
// watches from the new revision. It re-creates the watch itself rather than waiting for etcd3's reconnect,
// whose backoff can grow to 30 s and which may skip events across a second disconnect.
import type { Logger } from 'pino';
import type { Keys } from '../etcd/keys.js';
import type { PrefixWatch, Store, WatchEvent } from '../etcd/store.js';
import { WATCH_GRACE_MS, WatchCheck } from '../etcd/watch-check.js';
import { Backoff, sleep } from '../util/time.js';
import { deadline } from '../util/deadline.js';
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
  private gap: ((reason: string) => void) | undefined;
  /** A resync asked for while no watch was open: honoured as soon as the next one opens. */
  private resyncWanted: string | undefined;
  private outageSince: number | undefined;
  /** Number of listings taken (the first one, and one after each gap). */
  resyncs = 0;

  /** Whether etcd answers: a listing was taken and no probe, listing or watch failed since. */
  get answering(): boolean {
    return this.resyncs > 0 && this.outageSince === undefined;
  }

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
    private readonly model: NodeModel,
    private readonly opts: FeedOptions,
    private readonly sink: FeedSink,
    private readonly log: Logger,
  ) {}

  /** End the current watch and list again (for example after this watcher became leader). */
  requestResync(reason: string): void {
    this.resyncWanted = reason;
    this.gap?.(reason);
  }

  /** Run until `signal` aborts; resolves once the watch and the probe timer are released. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      this.resyncWanted = undefined;
      let listed: { revision: string; count: number };
      try {
        listed = await this.listOnce();
      } catch (err) {
        this.noteOutage(err, 'list');
        await sleep(backoff.next(), signal);
        continue;
      }
      const why = await this.watchUntilGap(listed.revision, listed.count, signal);
      if (why === undefined) continue;
      this.log.info({ reason: why }, 'watch gap: listing again');
      backoff.reset();
    }
  }

  // List the node keys into the model and hand the result to the sink. Its own function so that the
  // listing (every raw value, and the gRPC page buffers they are slices of: ~14 MiB at 10,000 nodes) is
  // garbage once this returns; held in run()'s frame it would live as long as the watch that follows.
  private async listOnce(): Promise<{ revision: string; count: number }> {
    const listing = await deadline(this.store.list(this.keys.nodes), this.opts.requestTimeoutMs, 'list');
    const touched = this.model.replace(listing.kvs);
    this.resyncs++;
    if (this.outageSince !== undefined) {
      this.log.info({ outageMs: Date.now() - this.outageSince }, 'etcd answering again; resynchronised');
      this.outageSince = undefined;
    }
    this.sink.resynced(touched);
    return { revision: listing.revision, count: listing.kvs.length };
  }

  // Watch from revision + 1 until a gap or shutdown; resolves the gap's reason (undefined: retry at once).
  private async watchUntilGap(revision: string, listed: number, signal: AbortSignal): Promise<string | undefined> {
    let watch: PrefixWatch;
    const from = (BigInt(revision) + 1n).toString();
    const check = new WatchCheck(listed, revision);
    try {
      watch = await createWatch(this.store, this.keys.nodes, from, this.opts.requestTimeoutMs);
    } catch (err) {
      this.noteOutage(err, 'watch');
      await sleep(200, signal);
      return undefined;
    }
    let current = true;
    let batch: Touched[] = [];
    let flushing = false;
    const flush = () => {
      flushing = false;
      const b = batch;
      batch = [];
      if (current && b.length > 0) this.sink.changed(b);
    };
    watch.on('event', (ev: WatchEvent) => {
      if (!current) return;
      check.seen(ev);
      const t = this.model.apply(ev);
      if (!t) return;
      batch.push(t);
      // etcd delivers one response's events together: hand them over as one batch.
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    });
    const ended = new Promise<string>((resolve) => {
      this.gap = resolve;
      if (this.resyncWanted !== undefined) resolve(this.resyncWanted);
      watch.on('error', (err: Error) => resolve(`watch cancelled: ${err.message}`));
      watch.on('disconnected', (err: Error) => resolve(`watch disconnected: ${err.message}`));
    });
    const stopProbe = new AbortController();
    // A silent stream will not answer a cancel either: do not wait for one.
    let silent = false;
    const probe = this.probeLoop(check, AbortSignal.any([signal, stopProbe.signal]), (reason, isSilent) => {
      silent = isSilent;
      this.gap?.(reason);
    });
    const onAbort = () => this.gap?.('shutdown');
    signal.addEventListener('abort', onAbort, { once: true });
    const reason = await ended;
    signal.removeEventListener('abort', onAbort);
    current = false;
    this.gap = undefined;
    stopProbe.abort();
    // Cancelling on a hung stream waits for an answer that never comes: do not let it hold the loop.
    const cancelled = deadline(watch.cancel(), this.opts.requestTimeoutMs, 'cancel watch').catch(() => undefined);
    await Promise.all([probe, silent ? undefined : cancelled]);
    if (batch.length > 0 && !signal.aborted) flush();
    return signal.aborted ? undefined : reason;
  }

  // A cheap read with a short deadline, every interval; three attempts, since each call goes to a random
  // member and a dead one refuses at once: only a cluster that does not answer at all is an outage. The
  // read counts the watched keys, so that a watch stream silent on a hung member is noticed too.
  private async probeLoop(check: WatchCheck, signal: AbortSignal, onFail: (reason: string, silent: boolean) => void): Promise<void> {
    while (!signal.aborted) {
      await sleep(check.pending ? Math.min(WATCH_GRACE_MS, this.opts.probeIntervalMs) : this.opts.probeIntervalMs, signal);
      if (signal.aborted) return;
      let lastErr: unknown;
      let reading: { count: number; revision: string } | undefined;
      for (let attempt = 0; attempt < 3 && !reading && !signal.aborted; attempt++) {
        try {
          reading = await deadline(this.store.count(this.keys.nodes), Math.min(this.opts.requestTimeoutMs, 1_000), 'probe');
        } catch (err) {
          lastErr = err;
        }
      }
      if (signal.aborted) return;
      if (!reading) {
        this.noteOutage(lastErr, 'probe');
        onFail('etcd not answering the liveness probe', false);
        return;
      }
      const silent = check.probe(reading);
      if (silent !== undefined) {
        onFail(silent, true);
        return;
      }
    }
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

// Creating a watch on a hung member never completes: give up after `ms` and cancel it if it turns up later.
async function createWatch(store: Store, prefix: string, from: string, ms: number): Promise<PrefixWatch> {
  const pending = store.watch(prefix, from, { ownStream: true });
  try {
    return await deadline(pending, ms, 'watch');
  } catch (err) {
    pending.then((w) => w.cancel(), () => undefined);
    throw err;
  }
}
