// Telling our own writes from someone else's, as they come back on the watch of our keys. A change by
// someone else is repaired; our own must not be taken for one (a warning and a needless re-read on every
// write). A write's event can arrive before its transaction's answer says which revision it got, so
// events seen while a write of ours is in flight wait for that answer before they are judged.
import type { WatchEvent } from '../etcd/store.js';
import type { Desired } from './desired.js';

/** How many revisions of our own writes are remembered: more than can be in flight at once. */
const REMEMBERED = 32;

export class OwnWrites {
  /** Revision of our latest write: puts at or below it echo our own (possibly superseded) writes. */
  private latest = 0n;
  /** Revisions our own transactions returned (the latest few): an event at one of them is our write. */
  private readonly revisions: bigint[] = [];
  /** Our writes in flight: an event may arrive before the transaction's answer tells us its revision. */
  private inFlight = 0;
  /** Events on our keys seen while a write of ours was in flight: judged again once it answered. */
  private undecided: WatchEvent[] = [];

  /** `rejudge` gets each event that had to wait, once no write of ours is in flight any more. */
  constructor(private readonly rejudge: (e: WatchEvent) => void) {}

  /** Run one of our own writes, remembering the revision it returned. */
  async track<T extends { succeeded: boolean; revision: string }>(write: Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      const res = await write;
      // A failed compare writes nothing: its revision is someone else's (or nobody's).
      if (res.succeeded) {
        const rev = BigInt(res.revision);
        if (rev > this.latest) this.latest = rev;
        this.revisions.push(rev);
        if (this.revisions.length > REMEMBERED) this.revisions.shift();
      }
      return res;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        const events = this.undecided;
        this.undecided = [];
        for (const e of events) this.rejudge(e);
      }
    }
  }

  /**
   * Whether `e` is someone else's change to a key we wrote (`written`): not when it is at a revision of
   * ours, on a key we do not hold, or puts back the value we wrote. While a write of ours is in flight
   * the answer waits (false now, the event goes to `rejudge` later).
   */
  foreign(e: WatchEvent, written: Desired): boolean {
    const rev = BigInt(e.kv.modRevision);
    if (this.revisions.includes(rev)) return false;
    const mine = written.leased.get(e.kv.key) ?? written.unleased.get(e.kv.key);
    if (mine === undefined) return false;
    if (e.type === 'put' && e.kv.value.toString() === mine) return false; // our own write echoing back
    if (this.inFlight > 0) {
      this.undecided.push(e);
      return false;
    }
    // An echo of an earlier write of ours, already superseded by a later one.
    return !(e.type === 'put' && rev <= this.latest);
  }
}
