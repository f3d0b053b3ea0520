// TTL (push) checks: the app reports its own status; silence longer than the TTL is critical.
// The board holds the reports; the ttl probe is a long poll that resolves with the next report, or
// with "TTL expired" once the TTL passes without one (once per silence, as Consul's timer fires once).
import { formatDuration } from '../util/duration.js';
import { BeaconError } from '../errors.js';
import type { HealthStatus } from '../types.js';
import { capOutput } from '../util/output.js';
import type { CheckResult, Probe, TtlCheckSpec } from './types.js';

// Reports waiting for the probe; a burst beyond this keeps only the newest (thresholds still see a streak).
const MAX_QUEUED = 16;

interface Entry {
  ttlMs: number;
  /** When the TTL clock last restarted (registration or report), ms since epoch. */
  lastReportAt: number;
  /** Whether "TTL expired" was already delivered for the current silence. */
  expired: boolean;
  queue: CheckResult[];
  wake: (() => void) | undefined;
}

/** Thrown by TtlBoard.report for an id that is not a registered ttl check. */
export class UnknownCheckError extends BeaconError {
  constructor(readonly id: string) {
    super(`no ttl check with id ${JSON.stringify(id)}`);
  }
}

/** The agent's ttl check states, fed by reports (TTL server) and read by the ttl probes. */
export class TtlBoard {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Start tracking a ttl check; its TTL clock starts now. */
  register(spec: Pick<TtlCheckSpec, 'id' | 'ttlMs'>): void {
    if (this.entries.has(spec.id)) return;
    this.entries.set(spec.id, { ttlMs: spec.ttlMs, lastReportAt: this.now(), expired: false, queue: [], wake: undefined });
  }

  /** Stop tracking a check (config reload removed it); a waiting probe resolves as critical. */
  unregister(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    e.queue.push({ status: 'critical', output: 'check removed' });
    e.wake?.();
  }

  /** Ids of the registered ttl checks. */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** Record a report for check `id`; throws UnknownCheckError when no such ttl check exists. */
  report(id: string, status: HealthStatus, note = ''): void {
    const e = this.entries.get(id);
    if (!e) throw new UnknownCheckError(id);
    e.lastReportAt = this.now();
    e.expired = false;
    if (e.queue.length >= MAX_QUEUED) e.queue.shift();
    e.queue.push({ status, output: capOutput(note) });
    e.wake?.();
  }

  /** Wait for the next report of `id`, or for its TTL to expire; resolves (as critical) on abort. */
  async next(id: string, signal: AbortSignal): Promise<CheckResult> {
    // Bound to the entry it starts on: when a reload registers the id anew, a probe of the replaced
    // check must neither take the new check's reports nor its wakeup.
    const e = this.entries.get(id);
    if (!e) return { status: 'critical', output: 'check is not registered' };
    for (;;) {
      const queued = e.queue.shift();
      if (queued) return queued;
      if (signal.aborted) return { status: 'critical', output: 'cancelled' };
      const wait = e.expired ? undefined : e.lastReportAt + e.ttlMs - this.now();
      if (wait !== undefined && wait <= 0) {
        e.expired = true;
        return { status: 'critical', output: `TTL expired (no report for ${formatDuration(e.ttlMs)})` };
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          if (e.wake === done) e.wake = undefined;
          resolve();
        };
        const timer = wait === undefined ? undefined : setTimeout(done, wait);
        e.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}

/** The ttl probe bound to a board: each call waits for the next report or the TTL's expiry. */
export function ttlProbe(board: TtlBoard): Probe<TtlCheckSpec> {
  return (spec, signal) => {
    board.register(spec);
    return board.next(spec.id, signal);
  };
}
