// Per-node history: what the leading watcher saw happen to a node (registrations, failures and how they were
// detected, the etcd revision of the delete, etcd leader changes around it, hook outcomes and why a hook was
// held back), kept under `<prefix>/v1/watcher/history/<node>` for `beacon explain`. The events say the same
// in part, but expire with the retention lease and say nothing of revisions or of why a hook waited.
// Best effort by design: the status record and the events are the authority; a history write that fails is
// logged and dropped, never retried at the cost of the reconcile loop. Bounded in entries and age, so one
// flapping node cannot grow its record without limit; appends are batched per node (one write per node per
// flush, not one per entry).
import type { Logger } from 'pino';
import { DecodeError, isRetryable } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { Compare, KeyValue, Store } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import { SCHEMA_VERSION } from '../types.js';
import { escapeText } from '../util/text.js';
import type { HookOutcome } from './records.js';
import type { Versioned } from './record-keeper.js';

import type { HistoryEntry, HistoryRecord } from '../types.js';
export type { HistoryEntry, HistoryRecord };

/** How much history a node keeps. */
export interface HistoryBounds {
  /** At most this many entries (the oldest go first). */
  maxEntries: number;
  /** Entries older than this are dropped at the next write (and ignored by readers). */
  maxAgeMs: number;
}

/** 100 entries, 7 days: a record stays well under the codec's 256 KiB (100 × ~0.6 KiB). */
export const HISTORY_BOUNDS: HistoryBounds = { maxEntries: 100, maxAgeMs: 7 * 24 * 3600_000 };

/** Longest `detail` stored (the schema allows 1024: room for a later writer, never a reason to refuse). */
export const MAX_DETAIL = 512;

// Writes of one flush in flight at once: etcd commits concurrent transactions with one fsync.
const FLUSH_CONCURRENCY = 32;
// Appends wait this long for others of the same moment (a failure brings its hooks and leader changes).
const FLUSH_DELAY_MS = 200;

/** `text` as one stored line: control characters escaped, at most MAX_DETAIL characters. */
export function historyText(text: string): string {
  const escaped = escapeText(text, Number.MAX_SAFE_INTEGER);
  return escaped.length > MAX_DETAIL ? `${escaped.slice(0, MAX_DETAIL - 3)}...` : escaped;
}

/**
 * The record after appending `entries` at `now`: entries sorted by time (stable), those older than the age
 * bound dropped, then the oldest beyond the entry bound. Pure: the bound is tested without etcd.
 */
export function appendHistory(
  prev: HistoryRecord | undefined,
  node: string,
  entries: readonly HistoryEntry[],
  now: number,
  bounds: HistoryBounds = HISTORY_BOUNDS,
): HistoryRecord {
  const all = [...(prev?.entries ?? []), ...entries.map((e) => ({ ...e, detail: historyText(e.detail) }))];
  const fresh = all.filter((e) => now - Date.parse(e.time) <= bounds.maxAgeMs);
  // Sorted by time (ties keep their order): entries of one flush may come from several sources.
  const sorted = fresh.map((e, i) => ({ e, i })).sort((a, b) => a.e.time.localeCompare(b.e.time) || a.i - b.i).map((x) => x.e);
  return {
    schema: SCHEMA_VERSION,
    node,
    entries: sorted.slice(Math.max(0, sorted.length - bounds.maxEntries)),
    updatedAt: new Date(now).toISOString(),
  };
}

/** Called for a stored history that does not decode (it is then replaced). */
export type HistoryGarbage = (err: DecodeError, kv: KeyValue) => void;

/** One hook outcome as a phrase: `ok after 1 attempt (412 ms): rebooted`, `held back: mass-failure (...)`. */
export function outcomeText(o: HookOutcome): string {
  const n = (a: number) => `${a} attempt${a === 1 ? '' : 's'}`;
  switch (o.state) {
    case 'pending':
      return 'pending';
    case 'ok':
      return `ok after ${n(o.attempts)} (${o.durationMs} ms)${o.output ? `: ${o.output.trim()}` : ''}`;
    case 'failed':
    case 'timeout': {
      const code = o.exitCode !== undefined ? `, exit code ${o.exitCode}` : o.httpStatus !== undefined ? `, HTTP ${o.httpStatus}` : '';
      return `${o.state} after ${n(o.attempts)}${code}${o.error ? `: ${o.error}` : ''}`;
    }
    case 'suppressed':
      return `held back: ${o.why} (${o.detail})`;
  }
}

/** The leader's history writer for one leadership term. */
export class HistoryWriter {
  private pending = new Map<string, HistoryEntry[]>();
  /** What this term last read or wrote per node; absent: read it first. */
  private readonly known = new Map<string, Versioned<HistoryRecord> | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Pick<Store, 'get' | 'txn'>,
    private readonly keys: Keys,
    /** The leader's fence (election key and lease): a deposed leader's late writes never land. */
    private readonly fence: () => Compare,
    private readonly log: Logger,
    private readonly onGarbage: HistoryGarbage = () => undefined,
    private readonly bounds: HistoryBounds = HISTORY_BOUNDS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Queue entries for `node` (written at the next flush, in one write with the node's other entries). */
  note(node: string, ...entries: HistoryEntry[]): void {
    if (this.closed || entries.length === 0 || node === '*') return;
    const list = this.pending.get(node);
    if (list) list.push(...entries);
    else this.pending.set(node, [...entries]);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, FLUSH_DELAY_MS);
  }

  /** Write everything queued now; resolves when it is written (or dropped). */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.then(() => this.writeAll(batch));
    return this.flushing;
  }

  /** Stop taking entries; resolves once what was queued is written (the fence refuses it after a deposition). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async writeAll(batch: Map<string, HistoryEntry[]>): Promise<void> {
    const items = [...batch];
    for (let i = 0; i < items.length; i += FLUSH_CONCURRENCY) {
      await Promise.all(items.slice(i, i + FLUSH_CONCURRENCY).map(([node, entries]) => this.write(node, entries)));
    }
  }

  // Read-modify-write by compare-and-swap on the record's mod revision; a conflict reads again (twice at most).
  private async write(node: string, entries: HistoryEntry[]): Promise<void> {
    const key = this.keys.history(node);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const cur = this.known.has(node) ? this.known.get(node) : await this.load(node);
        const next = appendHistory(cur?.record, node, entries, this.clock(), this.bounds);
        const expected = cur?.modRevision ?? '0';
        const res = await this.store.txn(
          [this.fence(), { key, target: 'Mod', op: '==', value: expected }],
          [{ put: key, value: JSON.stringify(next) }],
          [{ get: key }],
        );
        if (res.succeeded) {
          this.known.set(node, { record: next, modRevision: res.revision });
          return;
        }
        this.known.delete(node);
        // The record is where we compared it: the fence failed (no longer leading), reading again will not help.
        if ((res.gets[0]?.modRevision ?? '0') === expected) break;
      }
      this.log.debug({ node }, 'history not written: changed under us or no longer leading');
    } catch (err) {
      this.known.delete(node);
      // Never thrown: the history must not stop the leader's work, nor the next flush.
      if (isRetryable(err)) this.log.warn({ err, node, entries: entries.length }, 'history entries dropped: etcd not answering');
      else this.log.error({ err, node, entries: entries.length }, 'history entries dropped');
    }
  }

  private async load(node: string): Promise<Versioned<HistoryRecord> | undefined> {
    const kv = await this.store.get(this.keys.history(node));
    if (!kv) return undefined;
    const r = decodeKey(this.keys, kv);
    if (r instanceof DecodeError) {
      // Garbage under our own key: replaced by a fresh record (compared at the garbage's revision).
      this.onGarbage(r, kv);
      return { record: { schema: SCHEMA_VERSION, node, entries: [], updatedAt: new Date(0).toISOString() }, modRevision: kv.modRevision };
    }
    if (r?.kind !== 'watcher-history') return undefined;
    return { record: r.record, modRevision: kv.modRevision };
  }
}
