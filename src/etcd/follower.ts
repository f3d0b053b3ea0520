// List-then-watch over one prefix, the one mechanism every reader that follows etcd builds on (the
// watcher's NodeFeed, the client's follow()). List at a revision, watch from the next one, and list again
// after any gap: the watch cancelled (its revision compacted), its stream broken, the liveness probe
// failing (etcd3 stays silent on a hung server), or the watch's own stream silent on a hung member while
// the probe passes (WatchCheck). It re-creates the watch itself rather than waiting for etcd3's reconnect,
// whose backoff can grow to 30 s and which may skip events across a second disconnect.
import type { KeyValue, PrefixWatch, Store, WatchEvent } from './store.js';
import { WATCH_GRACE_MS, WatchCheck } from './watch-check.js';
import { Backoff, sleep } from '../util/time.js';
import { deadline } from '../util/deadline.js';

/** The part of Store a follower uses (a seam: tests delay or wrap calls to force gaps). */
export type FollowStore = Pick<Store, 'list' | 'watch' | 'count'>;

/** Timing of a follower. */
export interface FollowerTiming {
  /** How often etcd is probed while the watch is quiet; the probe counts the prefix's keys. */
  probeIntervalMs: number;
  /** Deadline of a listing, of creating a watch and (capped at 1 s) of one probe or cancel. */
  requestTimeoutMs: number;
}

/**
 * Why a watch ended, or a listing or watch could not be had. `list`, `watch` and `probe` are requests
 * that failed; `cancelled` and `disconnected` come from etcd's side of the stream; `silent` is the
 * WatchCheck's verdict; `requested` is the owner's own `resync()`.
 */
export type FollowGap =
  | { kind: 'list' | 'watch' | 'probe' | 'cancelled' | 'disconnected'; err: Error }
  | { kind: 'silent' | 'requested'; reason: string };

/** What a follower tells its owner; called synchronously, must not throw. */
export interface FollowerSink {
  /** A listing was taken (the first, and one after each gap): every key under the prefix at `revision`. */
  listed(kvs: readonly KeyValue[], revision: string): void;
  /** The events of one etcd watch response, in order (etcd delivers them together). */
  events(evs: readonly WatchEvent[]): void;
  /** A gap; returns true to wait (growing backoff) before listing again, false to list again at once. */
  gap(gap: FollowGap): boolean;
}

/** Follows one prefix until the signal given to run() aborts. */
export class Follower {
  private endWatch: ((gap: FollowGap) => void) | undefined;
  /** A resync asked for while no watch was open: honoured as soon as the next one opens. */
  private resyncWanted: string | undefined;

  constructor(
    private readonly store: FollowStore,
    private readonly prefix: string,
    private readonly timing: FollowerTiming,
    private readonly sink: FollowerSink,
  ) {}

  /** End the current watch and list again. */
  resync(reason: string): void {
    this.resyncWanted = reason;
    this.endWatch?.({ kind: 'requested', reason });
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
        if (signal.aborted) return;
        this.sink.gap({ kind: 'list', err: asError(err) });
        await sleep(backoff.next(), signal);
        continue;
      }
      if (signal.aborted) return;
      const gap = await this.watchUntilGap(listed.revision, listed.count, signal);
      if (gap === undefined) return;
      if (this.sink.gap(gap)) await sleep(backoff.next(), signal);
      else backoff.reset();
    }
  }

  // Its own function so that the listing (every raw value, and the gRPC page buffers they are slices of:
  // ~14 MiB at 10,000 nodes) is garbage once this returns; held in run()'s frame it would live as long as
  // the watch that follows.
  private async listOnce(): Promise<{ revision: string; count: number }> {
    const listing = await deadline(this.store.list(this.prefix), this.timing.requestTimeoutMs, 'list');
    this.sink.listed(listing.kvs, listing.revision);
    return { revision: listing.revision, count: listing.kvs.length };
  }

  // Watch from revision + 1 until a gap; resolves the gap, or undefined at shutdown.
  private async watchUntilGap(revision: string, listed: number, signal: AbortSignal): Promise<FollowGap | undefined> {
    const check = new WatchCheck(listed, revision);
    let watch: PrefixWatch;
    try {
      watch = await this.createWatch((BigInt(revision) + 1n).toString());
    } catch (err) {
      return signal.aborted ? undefined : { kind: 'watch', err: asError(err) };
    }
    let current = true;
    let batch: WatchEvent[] = [];
    let flushing = false;
    const flush = () => {
      flushing = false;
      const b = batch;
      batch = [];
      if (b.length > 0) this.sink.events(b);
    };
    watch.on('event', (ev: WatchEvent) => {
      if (!current) return;
      check.seen(ev);
      batch.push(ev);
      // etcd delivers one response's events together: hand them over as one batch.
      if (!flushing) {
        flushing = true;
        setImmediate(() => current && flush());
      }
    });
    // A cancelled or silent stream will not answer a cancel: do not wait for one.
    let dead = false;
    let shutdown = false;
    const ended = new Promise<FollowGap>((resolve) => {
      this.endWatch = resolve;
      if (this.resyncWanted !== undefined) resolve({ kind: 'requested', reason: this.resyncWanted });
      watch.on('error', (err: Error) => {
        dead = true;
        resolve({ kind: 'cancelled', err });
      });
      watch.on('disconnected', (err: Error) => resolve({ kind: 'disconnected', err }));
    });
    const stopProbe = new AbortController();
    const probe = this.probeLoop(check, AbortSignal.any([signal, stopProbe.signal]), (gap) => {
      if (gap.kind === 'silent') dead = true;
      this.endWatch?.(gap);
    });
    const onAbort = () => {
      shutdown = true;
      this.endWatch?.({ kind: 'requested', reason: 'shutdown' });
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const gap = await ended;
    signal.removeEventListener('abort', onAbort);
    current = false;
    this.endWatch = undefined;
    stopProbe.abort();
    // Cancelling on a hung stream waits for an answer that never comes: do not let it hold the loop.
    const cancelled = watch.cancel();
    const cancelWait = Math.min(this.timing.requestTimeoutMs, 1_000);
    await Promise.all([probe, dead ? undefined : deadline(cancelled, cancelWait, 'cancel watch').catch(() => undefined)]);
    if (shutdown || signal.aborted) return undefined;
    flush(); // events that arrived with the gap: already seen, so handed over before the next listing
    return gap;
  }

  // Creating a watch on a hung member never completes; one from a compacted revision is refused.
  private async createWatch(from: string): Promise<PrefixWatch> {
    const pending = this.store.watch(this.prefix, from, { ownStream: true });
    try {
      return await deadline(pending, this.timing.requestTimeoutMs, 'watch');
    } catch (err) {
      pending.then((w) => w.cancel(), () => undefined);
      throw err;
    }
  }

  // A cheap read with a short deadline every interval: etcd3 stays silent on a hung server. Three attempts,
  // since each call may go to another member and a dead one refuses at once: only a cluster that does not
  // answer at all is an outage. The read counts the followed keys, so that a watch stream silent on a hung
  // member is noticed too (a gap that is not an outage).
  private async probeLoop(check: WatchCheck, signal: AbortSignal, onGap: (gap: FollowGap) => void): Promise<void> {
    const { probeIntervalMs, requestTimeoutMs } = this.timing;
    while (!signal.aborted) {
      await sleep(check.pending ? Math.min(WATCH_GRACE_MS, probeIntervalMs) : probeIntervalMs, signal);
      if (signal.aborted) return;
      let lastErr: unknown;
      let reading: { count: number; revision: string } | undefined;
      for (let attempt = 0; attempt < 3 && !reading && !signal.aborted; attempt++) {
        try {
          reading = await deadline(this.store.count(this.prefix), Math.min(requestTimeoutMs, 1_000), 'probe');
        } catch (err) {
          lastErr = err;
        }
      }
      if (signal.aborted) return;
      if (!reading) return onGap({ kind: 'probe', err: asError(lastErr) });
      const silent = check.probe(reading);
      if (silent !== undefined) return onGap({ kind: 'silent', reason: silent });
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
