// The baseline beacon replaces: the CoreOS "sidekick" announce unit, one per service, rewriting its
// key with a TTL on a timer (`etcdctl set --ttl 60 ...; sleep 45` in etcd v2). In etcd v3 a TTL
// lives on a lease, so each refresh is `etcdctl lease grant T` + `etcdctl put --lease`: one new
// lease and one write per key per refresh; the previous lease expires on its own T later.
import type { Store } from '../../src/etcd/store.js';
import { sleep } from '../../src/util/time.js';
import type { Counters } from './protocol.js';

/** A refresh that starts later than this after its due time counts as late. */
const LATE_MS = 1_000;

/** One announce loop: one key, rewritten under a fresh lease every interval. */
class Announcer {
  /** When the lease of the last successful write expires on etcd (ms since epoch). */
  expiresAt = 0;

  constructor(
    private readonly store: Store,
    private readonly key: string,
    private readonly value: string,
    private readonly ttl: number,
    private readonly intervalMs: number,
    private readonly c: Counters,
  ) {}

  // One refresh: grant, put under the new lease. Returns whether it landed.
  private async refresh(due: number): Promise<boolean> {
    const start = Date.now();
    const late = start - due;
    if (late > LATE_MS) this.c.lateRefreshes++;
    if (late > this.c.maxLatenessMs) this.c.maxLatenessMs = Math.round(late);
    try {
      const lease = await this.store.grant(this.ttl);
      await this.store.put(this.key, this.value, lease.id);
      const now = Date.now();
      if (this.expiresAt !== 0 && now > this.expiresAt) this.c.gaps++;
      this.expiresAt = start + lease.ttl * 1000;
      this.c.refreshes++;
      return true;
    } catch {
      this.c.refreshErrors++; // the error itself is tallied by the worker's counting store
      return false;
    }
  }

  /** Announce until aborted; `first` resolves after the first write (or abort). */
  run(signal: AbortSignal): { first: Promise<void>; done: Promise<void> } {
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    signal.addEventListener('abort', () => firstDone(), { once: true });
    const done = (async () => {
      let due = Date.now();
      // The unit retries its first write until it lands (systemd would restart it).
      while (!signal.aborted && !(await this.refresh(due))) await sleep(200, signal);
      firstDone();
      // Independent units start at independent moments: a random phase, then a fixed period.
      due = Date.now() + Math.random() * this.intervalMs;
      while (!signal.aborted) {
        await sleep(due - Date.now(), signal);
        if (signal.aborted) break;
        await this.refresh(due);
        due += this.intervalMs;
        // A unit that fell behind does not burst to catch up: `sleep 45` counts from the last write.
        if (due < Date.now()) due = Date.now();
      }
    })();
    return { first, done };
  }
}

/** A virtual node announced the sidekick way: one announce loop per endpoint key. */
export class SidekickNode {
  private readonly announcers: Announcer[];
  private done: Promise<void>[] = [];

  constructor(store: Store, endpoints: Map<string, string>, ttl: number, intervalMs: number, c: Counters) {
    this.announcers = [...endpoints].map(([k, v]) => new Announcer(store, k, v, ttl, intervalMs, c));
  }

  /** Start every announce loop; resolves when each key was written once (or on abort). */
  async start(signal: AbortSignal): Promise<void> {
    const runs = this.announcers.map((a) => a.run(signal));
    this.done = runs.map((r) => r.done);
    await Promise.all(runs.map((r) => r.first));
  }

  /** Whether every key is still within its last lease's TTL (what a reader would see as present). */
  isRegistered(now = Date.now()): boolean {
    return this.announcers.every((a) => a.expiresAt > now);
  }

  /** Resolves when every loop has stopped; the keys then expire with their leases (no graceful leave). */
  async stopped(): Promise<void> {
    await Promise.all(this.done);
  }
}
