// The events the status page shows: the watcher's own (`<prefix>/v1/watcher/events/`) and the agents'
// node-problem events (`<prefix>/v1/events/`), both kept in memory by list-then-watch (src/client/follow.ts,
// listed again after any gap). Every value goes through the codec; what fails is skipped and counted. Both
// kinds expire with their retention leases, so memory follows what etcd keeps.
import type { Logger } from 'pino';
import type { EventRecord } from '../agent/records.js';
import { follow, type FollowStore } from '../client/follow.js';
import { DecodeError } from '../errors.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import { decodeKey } from '../registry/codec.js';
import { escapeText } from '../util/text.js';
import type { NodeEvent } from './records.js';

/** Options of RecentEvents. */
export interface RecentEventsOptions {
  store: FollowStore;
  keys: Keys;
  log: Logger;
  /** Called (synchronously, must not throw) after each listing and each batch of watch events. */
  onChange?: () => void;
  /** Told of values the codec refuses (a Rejections: logged and counted once per key and revision) and of keys valid again or gone. */
  rejections?: { reject(err: DecodeError, kv: KeyValue): void; clear(key: string): void; clearAll(keep: (key: string) => boolean): void };
  probeIntervalMs?: number;
  requestTimeoutMs?: number;
}

/** One decoded event, tagged with where it came from. */
export type AnyEvent = { origin: 'watcher'; record: NodeEvent } | { origin: 'node'; record: EventRecord };

/** Every retained watcher event and node-problem event, in memory, kept current from etcd. */
export class RecentEvents {
  private readonly events = new Map<string, AnyEvent>();
  /** Keys whose value the codec refuses now. */
  private readonly invalid = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly opts: RecentEventsOptions) {
    this.log = opts.log.child({ component: 'recent-events' });
  }

  /** How many event keys hold a value the codec refuses right now. */
  get invalidNow(): number {
    return this.invalid.size;
  }

  /** The newest `limit` events, newest first (by the event's own time, then key), and how many there are. */
  newest(limit: number): { events: AnyEvent[]; total: number } {
    const all = [...this.events.values()];
    const time = (e: AnyEvent) => Date.parse(e.origin === 'watcher' ? e.record.time : e.record.lastTime) || 0;
    all.sort((a, b) => time(b) - time(a) || (a.record.id < b.record.id ? -1 : 1));
    return { events: all.slice(0, limit), total: all.length };
  }

  /** Follow both prefixes until `signal` aborts; resolves once both watches are released. */
  async run(signal: AbortSignal): Promise<void> {
    const { keys } = this.opts;
    await Promise.all([this.followPrefix(keys.watcherEvents, signal), this.followPrefix(keys.events, signal)]);
  }

  private async followPrefix(prefix: string, signal: AbortSignal): Promise<void> {
    await follow(
      this.opts.store,
      prefix,
      {
        ...(this.opts.probeIntervalMs !== undefined ? { probeIntervalMs: this.opts.probeIntervalMs } : {}),
        ...(this.opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: this.opts.requestTimeoutMs } : {}),
        onState: (kvs, cause) => {
          if (cause === 'list') {
            for (const key of [...this.events.keys(), ...this.invalid]) {
              if (key.startsWith(prefix)) this.forget(key);
            }
            this.opts.rejections?.clearAll((key) => !key.startsWith(prefix));
            for (const kv of kvs.values()) this.put(kv);
          }
          this.opts.onChange?.();
        },
        onEvent: (ev) => (ev.type === 'put' ? this.put(ev.kv) : this.forget(ev.kv.key)),
        onOutage: (err) => {
          if (err) this.log.warn({ err, prefix }, 'event view not current: etcd not answering');
          else this.log.info({ prefix }, 'event view current again');
        },
      },
      signal,
    );
  }

  private forget(key: string): void {
    this.events.delete(key);
    this.invalid.delete(key);
    this.opts.rejections?.clear(key);
  }

  private put(kv: KeyValue): void {
    const r = decodeKey(this.opts.keys, kv);
    if (r !== undefined && !(r instanceof DecodeError) && (r.kind === 'watcher-event' || r.kind === 'node-event')) {
      this.invalid.delete(kv.key);
      this.opts.rejections?.clear(kv.key);
      this.events.set(kv.key, r.kind === 'watcher-event' ? { origin: 'watcher', record: r.record } : { origin: 'node', record: r.record });
      return;
    }
    this.events.delete(kv.key);
    this.invalid.add(kv.key);
    const err = r instanceof DecodeError ? r : new DecodeError(kv.key, 'not a key beacon writes');
    if (this.opts.rejections) this.opts.rejections.reject(err, kv);
    else this.log.debug({ key: escapeText(kv.key), problem: escapeText(err.problem) }, 'key skipped');
  }
}
