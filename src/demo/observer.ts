// What the demo shows and its story waits on: the whole registry and the watcher's events, followed by
// list-then-watch (src/client/follow.ts) and read through the codec like any consumer's. A record that fails
// its schema is skipped and counted, never shown.
import { EventEmitter } from 'node:events';
import { follow } from '../client/follow.js';
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue, Store } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import { buildSnapshot, type Snapshot } from '../registry/reader.js';
import type { HookOutcome, NodeEvent } from '../watcher/records.js';
import { sleep } from '../util/time.js';

/** Everything the demo knows of the registry at one moment. */
export interface DemoState {
  snapshot: Snapshot;
  /** The watcher's events still retained, oldest first. */
  events: NodeEvent[];
  /** Keys whose records failed to decode in the latest view. */
  skipped: number;
}

/** A hook's final outcome for one event (anything but pending). */
export type FinalOutcome = Exclude<HookOutcome, { state: 'pending' }>;

/**
 * Follows the registry until `run`'s signal aborts. Events:
 * - `change` (state): after every listing and every batch of watch events;
 * - `event` (NodeEvent): a watcher event seen for the first time (once per event id);
 * - `hook` (NodeEvent, hook name, FinalOutcome): a hook's outcome once it is final (once per event and hook);
 * - `outage` (Error | undefined): etcd stopped answering, and undefined once it answers again.
 */
export class RegistryObserver extends EventEmitter {
  private current: DemoState = { snapshot: { nodes: new Map(), endpoints: [], errors: [] }, events: [], skipped: 0 };
  private readonly seenEvents = new Set<string>();
  private readonly seenOutcomes = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly keys: Keys,
  ) {
    super();
  }

  /** The latest view. */
  get state(): DemoState {
    return this.current;
  }

  /** Follow until `signal` aborts; resolves once the watch is released. */
  run(signal: AbortSignal): Promise<void> {
    return follow(
      this.store,
      this.keys.root,
      {
        requestTimeoutMs: this.store.requestTimeoutMs,
        probeIntervalMs: 1_000,
        onState: (kvs) => this.update(kvs),
        onOutage: (err) => this.emit('outage', err),
      },
      signal,
    );
  }

  /**
   * The first non-undefined `pick(state)`, now or after a later change; undefined when `timeoutMs` passes or
   * `signal` aborts first.
   */
  async waitFor<T>(pick: (s: DemoState) => T | undefined, timeoutMs: number, signal: AbortSignal): Promise<T | undefined> {
    const now = pick(this.current);
    if (now !== undefined) return now;
    const stop = new AbortController();
    const done = AbortSignal.any([signal, stop.signal]);
    return new Promise<T | undefined>((resolve) => {
      const onChange = (s: DemoState) => {
        const v = pick(s);
        if (v !== undefined) finish(v);
      };
      const finish = (v: T | undefined) => {
        this.off('change', onChange);
        stop.abort();
        resolve(v);
      };
      this.on('change', onChange);
      void sleep(timeoutMs, done).then(() => finish(undefined));
    });
  }

  private update(kvs: ReadonlyMap<string, KeyValue>): void {
    const snapshot = buildSnapshot(this.keys, [...kvs.values()]);
    const events: NodeEvent[] = [];
    for (const kv of kvs.values()) {
      if (this.keys.parse(kv.key).kind !== 'watcher-event') continue;
      const r = decodeKey(this.keys, kv);
      // Its decode error is already among the snapshot's.
      if (r && !(r instanceof DecodeError) && r.kind === 'watcher-event') events.push(r.record);
    }
    events.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
    this.current = { snapshot, events, skipped: snapshot.errors.length };
    for (const e of events) {
      if (!this.seenEvents.has(e.id)) {
        this.seenEvents.add(e.id);
        this.emit('event', e);
      }
      for (const [hook, outcome] of Object.entries(e.hooks)) {
        const key = `${e.id}\n${hook}`;
        if (outcome.state === 'pending' || this.seenOutcomes.has(key)) continue;
        this.seenOutcomes.add(key);
        this.emit('hook', e, hook, outcome);
      }
    }
    this.emit('change', this.current);
  }
}
