// Records the watcher refused (they fail the schema, or sit under keys beacon never writes): each distinct
// (key, mod revision) is logged once and counted once, however often a resync reads it again; the keys
// that are invalid right now are kept for the `beacon_watcher_invalid_records` gauge.
import type { Logger } from 'pino';
import type { DecodeError } from '../errors.js';
import type { KeyValue } from '../etcd/store.js';
import { escapeText } from '../util/text.js';

// Distinct rejections remembered for deduplication; forgotten past this many (a key then may log again).
const MAX_REMEMBERED = 10_000;

/** The watcher's record of refused values. */
export class Rejections {
  private readonly seen = new Set<string>();
  private readonly current = new Map<string, string>();
  /** Distinct (key, mod revision) pairs refused so far. */
  total = 0;

  constructor(private readonly log: Logger) {}

  /** Keys under the watched prefixes whose current value is refused. */
  get invalidNow(): number {
    return this.current.size;
  }

  /** A value was refused: log and count it unless this key at this revision already was. */
  reject(err: DecodeError, kv: KeyValue, opts: { tracked?: boolean } = {}): void {
    if (opts.tracked !== false) this.current.set(kv.key, kv.modRevision);
    const id = `${kv.key}@${kv.modRevision}`;
    if (this.seen.has(id)) return;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(id);
    this.total++;
    this.log.warn(
      { key: escapeText(kv.key), revision: kv.modRevision, bytes: kv.value.length, problem: escapeText(err.problem), garbage: this.total },
      'undecodable record ignored',
    );
  }

  /** The key now holds a valid value, or is gone. */
  clear(key: string): void {
    this.current.delete(key);
  }

  /** Forget every tracked key (a listing replaces the copy); `keep` says which prefix's keys stay. */
  clearAll(keep: (key: string) => boolean): void {
    for (const key of this.current.keys()) if (!keep(key)) this.current.delete(key);
  }
}
