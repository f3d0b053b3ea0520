// Follow one prefix: list, then watch from the listed revision + 1, and list again after any gap.
// The watcher's NodeFeed does the same for its node model; this one is generic over the prefix and hands
// the owner a full key → value map every time, so consumers are level-triggered and never see a set that
// is partial (mid-listing) or stale (events skipped across a reconnect, a compacted revision, a hung etcd,
// a watch stream silent on a hung member).
import type { KeyValue, PrefixWatch, Store, WatchEvent } from '../etcd/store.js';
import { WATCH_GRACE_MS, WatchCheck } from '../etcd/watch-check.js';
import { EtcdMessageTooLargeError } from '../errors.js';
import { Backoff, sleep } from '../util/time.js';
import { deadline } from '../util/deadline.js';

/** The part of Store a follower uses (a seam: tests delay or wrap calls to force gaps). */
export type FollowStore = Pick<Store, 'list' | 'watch' | 'count'>;

/** Why the follower's view was (re)built or changed. */
export type FollowCause = 'list' | 'event';

/** Timing and callbacks of one follower. */
export interface FollowOptions {
  /** How often etcd is probed while the watch is quiet (default 2000 ms); the probe counts the prefix's keys. */
  probeIntervalMs?: number;
  /** Deadline of a listing, of creating a watch and (capped at 1 s) of one probe (default 2000 ms). */
  requestTimeoutMs?: number;
  /** Called with the whole current map after each listing and after each batch of watch events. */
  onState(kvs: ReadonlyMap<string, KeyValue>, cause: FollowCause, revision: string): void;
  /** Called with each watch event as it is applied (before onState for its batch). */
  onEvent?(ev: WatchEvent): void;
  /** Called at a gap (a listing, the watch or the probe failed, or etcd cancelled the watch), and with undefined after the next good listing. */
  onOutage?(err: Error | undefined): void;
  /** Called when the follower lists again though etcd answers (for example its watch stream went silent on a hung member), with why. */
  onResync?(reason: string): void;
}

/** Follow `prefix` until `signal` aborts; resolves once the watch and the probe timer are released. */
export async function follow(store: FollowStore, prefix: string, opts: FollowOptions, signal: AbortSignal): Promise<void> {
  const probeIntervalMs = opts.probeIntervalMs ?? 2_000;
  const timeoutMs = opts.requestTimeoutMs ?? 2_000;
  const backoff = new Backoff(100, 2_000);
  let down = false;
  const outage = (err: unknown) => {
    if (down || signal.aborted) return;
    down = true;
    opts.onOutage?.(err instanceof Error ? err : new Error(String(err)));
  };
  while (!signal.aborted) {
    const state = new Map<string, KeyValue>();
    let revision: string;
    let listed: number;
    try {
      const listing = await deadline(store.list(prefix), timeoutMs, 'list');
      if (signal.aborted) return;
      for (const kv of listing.kvs) state.set(kv.key, kv);
      revision = listing.revision;
      listed = listing.kvs.length;
      if (down) {
        down = false;
        opts.onOutage?.(undefined);
      }
      opts.onState(state, 'list', revision);
    } catch (err) {
      outage(err);
      await sleep(backoff.next(), signal);
      continue;
    }
    const reason = await watchUntilGap(store, prefix, revision, listed, state, opts, { probeIntervalMs, timeoutMs }, signal);
    if (reason instanceof Error) {
      outage(reason);
      await sleep(backoff.next(), signal);
    } else {
      if (!signal.aborted) opts.onResync?.(reason);
      backoff.reset();
    }
  }
}

// Watch from revision + 1 until a gap; resolves an Error for an outage, or a string for any other gap.
async function watchUntilGap(
  store: FollowStore,
  prefix: string,
  revision: string,
  listed: number,
  state: Map<string, KeyValue>,
  opts: FollowOptions,
  timing: { probeIntervalMs: number; timeoutMs: number },
  signal: AbortSignal,
): Promise<Error | string> {
  let watch: PrefixWatch;
  const check = new WatchCheck(listed, revision);
  const pending = store.watch(prefix, (BigInt(revision) + 1n).toString(), { ownStream: true });
  try {
    watch = await deadline(pending, timing.timeoutMs, 'watch');
  } catch (err) {
    // Creating a watch on a hung member never completes; one from a compacted revision is refused.
    pending.then((w) => w.cancel(), () => undefined);
    return err instanceof Error ? err : new Error(String(err));
  }
  let current = true;
  let latest = revision;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (current) opts.onState(state, 'event', latest);
  };
  watch.on('event', (ev: WatchEvent) => {
    if (!current) return;
    check.seen(ev);
    if (ev.type === 'put') state.set(ev.kv.key, ev.kv);
    else state.delete(ev.kv.key);
    latest = ev.kv.modRevision;
    opts.onEvent?.(ev);
    // etcd delivers one response's events together: report the state once per response.
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  let end!: (why: Error | string) => void;
  const ended = new Promise<Error | string>((resolve) => (end = resolve));
  let dead = false;
  watch.on('error', (err: Error) => {
    // Cancelled by etcd (for example its revision was compacted): there is nothing left to cancel.
    dead = true;
    end(err);
  });
  // etcd3 would reconnect by itself, maybe after 30 s, maybe skipping events: list again instead. A watch
  // response over the receive limit is no outage: the listing that follows, at the current revision, reads
  // past it (paged, a too-large value by name), and the new watch starts after it instead of replaying it.
  watch.on('disconnected', (err: Error) =>
    end(err instanceof EtcdMessageTooLargeError ? `watch response too large: ${err.message}` : err),
  );
  const stopProbe = new AbortController();
  const probe = probeLoop(store, prefix, check, timing, AbortSignal.any([signal, stopProbe.signal]), (why) => {
    // A silent stream will not answer a cancel either: do not wait for one.
    if (typeof why === 'string') dead = true;
    end(why);
  });
  const onAbort = () => end('shutdown');
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  const reason = await ended;
  signal.removeEventListener('abort', onAbort);
  current = false;
  stopProbe.abort();
  // Cancelling on a hung stream waits for an answer that never comes: do not let it hold the loop.
  const cancelled = watch.cancel();
  await Promise.all([probe, dead ? undefined : deadline(cancelled, Math.min(timing.timeoutMs, 1_000), 'cancel watch').catch(() => undefined)]);
  return reason;
}

// A cheap read with a short deadline every interval: etcd3 stays silent on a hung server. Three attempts,
// since each call may go to another member and a dead one refuses at once. The read counts the followed
// keys, so that a watch stream silent on a hung member is noticed too (a gap that is not an outage).
async function probeLoop(
  store: FollowStore,
  prefix: string,
  check: WatchCheck,
  timing: { probeIntervalMs: number; timeoutMs: number },
  signal: AbortSignal,
  onFail: (why: Error | string) => void,
): Promise<void> {
  while (!signal.aborted) {
    await sleep(check.pending ? Math.min(WATCH_GRACE_MS, timing.probeIntervalMs) : timing.probeIntervalMs, signal);
    if (signal.aborted) return;
    let lastErr: unknown;
    let reading: { count: number; revision: string } | undefined;
    for (let attempt = 0; attempt < 3 && !reading && !signal.aborted; attempt++) {
      try {
        reading = await deadline(store.count(prefix), Math.min(timing.timeoutMs, 1_000), 'probe');
      } catch (err) {
        lastErr = err;
      }
    }
    if (signal.aborted) return;
    if (!reading) {
      onFail(lastErr instanceof Error ? lastErr : new Error(String(lastErr)));
      return;
    }
    const silent = check.probe(reading);
    if (silent !== undefined) {
      onFail(silent);
      return;
    }
  }
}
