// Small timing helpers shared by the long-running loops.

/** Resolve after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Capped exponential backoff with jitter (AWS style), ceiling = min(cap, base·2^n): `equal` jitter is
 * random in [ceiling/2, ceiling] (never retries at once), `full` jitter random in [0, ceiling] (spreads a
 * fleet's retries widest: what many clients retrying against one overloaded server need).
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly jitter: 'equal' | 'full' = 'equal',
  ) {}
  /** The next delay, growing with each call until `reset`. */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt++, 20));
    if (this.jitter === 'full') return Math.round(Math.random() * ceiling);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }
  /** Start again from the base delay. */
  reset(): void {
    this.attempt = 0;
  }
}

/** A wake-up that a waiting loop can be poked with (coalesces pokes while nobody waits). */
export class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;
  /** Poke the waiter (or the next one). */
  wake(): void {
    this.pending = true;
    this.resolve?.();
  }
  /** Wait up to `ms`, returning early on wake() or abort. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return;
    }
    const ac = new AbortController();
    const both = AbortSignal.any([signal, ac.signal]);
    this.resolve = () => ac.abort();
    await sleep(ms, both);
    this.resolve = undefined;
    this.pending = false;
  }
}
