// Follow one prefix as a whole key → value map (src/etcd/follower.ts lists and watches), so consumers
// are level-triggered and never see a set that is partial (mid-listing) or stale (events skipped across a
// reconnect, a compacted revision, a hung etcd, a watch stream silent on a hung member).
import type { KeyValue, WatchEvent } from '../etcd/store.js';
import { Follower, type FollowGap, type FollowStore } from '../etcd/follower.js';
import { EtcdMessageTooLargeError } from '../errors.js';

export type { FollowStore } from '../etcd/follower.js';

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
  let state = new Map<string, KeyValue>();
  let revision = '0';
  let down = false;
  const follower = new Follower(
    store,
    prefix,
    { probeIntervalMs: opts.probeIntervalMs ?? 2_000, requestTimeoutMs: opts.requestTimeoutMs ?? 2_000 },
    {
      listed(kvs, rev) {
        state = new Map();
        for (const kv of kvs) state.set(kv.key, kv);
        revision = rev;
        if (down) {
          down = false;
          opts.onOutage?.(undefined);
        }
        opts.onState(state, 'list', revision);
      },
      events(evs) {
        for (const ev of evs) {
          if (ev.type === 'put') state.set(ev.kv.key, ev.kv);
          else state.delete(ev.kv.key);
          revision = ev.kv.modRevision;
          opts.onEvent?.(ev);
        }
        opts.onState(state, 'event', revision);
      },
      gap(gap) {
        const why = resyncReason(gap);
        if (why !== undefined) {
          opts.onResync?.(why);
          return false;
        }
        if (!down && !signal.aborted && 'err' in gap) {
          down = true;
          opts.onOutage?.(gap.err);
        }
        return true;
      },
    },
  );
  await follower.run(signal);
}

// A gap that is no outage: etcd answers, the follower lists again at once. A watch response over the
// receive limit is one: the listing that follows, at the current revision, reads past it (paged, a
// too-large value by name), and the new watch starts after it instead of replaying it.
function resyncReason(gap: FollowGap): string | undefined {
  if (gap.kind === 'silent' || gap.kind === 'requested') return gap.reason;
  if (gap.kind === 'disconnected' && gap.err instanceof EtcdMessageTooLargeError) return `watch response too large: ${gap.err.message}`;
  return undefined;
}
