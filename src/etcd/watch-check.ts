// Tells a watch whose stream went silent from a watch that is merely quiet. A watch stream held by a hung
// etcd member (stopped, or cut off without a reset) delivers nothing and reports no error until gRPC
// keepalive gives up on the connection, about 8 s later; the liveness probe meanwhile passes, because
// each probe may go to a healthy member. The probe therefore also counts the keys under the watched
// prefix: when etcd holds a different number of keys than the watch has shown, and the watch delivers
// nothing for a grace period after that, the stream owes events it is not sending. Creates and deletes
// change the count; a change that only rewrites values is not seen here (gRPC keepalive still is).
import type { WatchEvent } from './store.js';

/** One probe's reading of the watched prefix. */
export interface PrefixCount {
  count: number;
  revision: string;
}

/** Follows what one watch delivered; judges each probe's count against it. */
export class WatchCheck {
  private keys: number;
  private latest: bigint;
  private events = 0;
  private owed: { count: number; revision: bigint; events: number } | undefined;

  /** Start from a listing: its number of keys and its revision. */
  constructor(listed: number, revision: string) {
    this.keys = listed;
    this.latest = BigInt(revision);
  }

  /** Whether the last probe found events the watch still owes (the next probe should come soon). */
  get pending(): boolean {
    return this.owed !== undefined;
  }

  /** Note one event the watch delivered. */
  seen(ev: WatchEvent): void {
    this.events++;
    const rev = BigInt(ev.kv.modRevision);
    if (rev > this.latest) this.latest = rev;
    // Version 1 is a key's first write since it was (re)created; any other put rewrites a key we hold.
    if (ev.type === 'delete') this.keys--;
    else if (ev.kv.version === '1') this.keys++;
  }

  /**
   * Judge a probe's reading. Returns why the watch is silent when the previous reading found events owed
   * and the watch has delivered nothing since; otherwise undefined, remembering this reading if it finds
   * events owed now.
   */
  probe(reading: PrefixCount): string | undefined {
    const owed = this.owed;
    this.owed = undefined;
    if (owed && this.events === owed.events && this.latest < owed.revision && this.keys !== owed.count) {
      return `watch silent: etcd held ${owed.count} keys at revision ${owed.revision}, the watch shows ${this.keys} and delivered nothing since`;
    }
    const revision = BigInt(reading.revision);
    if (revision > this.latest && reading.count !== this.keys) {
      this.owed = { count: reading.count, revision, events: this.events };
    }
    return undefined;
  }
}

/** How long a watch may owe events before its stream is judged silent: a healthy one delivers within ~100 ms. */
export const WATCH_GRACE_MS = 1_000;
