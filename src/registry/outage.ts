// etcd not answering, as one registration sees it: since when (for the log line that ends it), the last
// failure (it sets the pace of the next grant), and the wait before granting again.
import type { Logger } from 'pino';
import type { GrantBackoff } from '../etcd/lease-keeper.js';
import { sleep } from '../util/time.js';

/** One outage at a time: whichever request fails first starts it, whichever is answered first ends it. */
export class Outage {
  private since: number | undefined;
  /** The last failure seen: tells an overloaded etcd (answering, refusing) from one not answering. */
  lastError: unknown;

  constructor(private readonly log: Logger) {}

  /** A request failed: the first failure of an outage is a warning, the others are debug lines. */
  failed(err: unknown, op: string, lease: string | undefined): void {
    this.lastError = err;
    if (this.since === undefined) {
      this.since = Date.now();
      this.log.warn({ err, op, lease }, 'etcd not answering');
    } else {
      this.log.debug({ err, op }, 'etcd still not answering');
    }
  }

  /** A request was answered: ends the outage, if any, with its length. Returns whether one ended. */
  answered(lease: string): boolean {
    if (this.since === undefined) return false;
    this.log.info({ lease, outageMs: Date.now() - this.since }, 'etcd answering again');
    this.since = undefined;
    return true;
  }
}

/**
 * Wait before granting again, with the keeper's backoff (full jitter up to 30 s, faster growth when
 * etcd says it is overloaded or slow): an etcd that answers but refuses then sees a fleet's grants and
 * transactions spread over tens of seconds instead of every agent retrying each second. While etcd
 * does not answer at all, a cheap read (`probe`, true when answered) every 0.25–0.75 s (jittered): the
 * first one answered after an outage ends the wait, so an agent is back within ~1 s of etcd answering
 * whatever the backoff had grown to; what it does first then is take its old lease back (a keepalive,
 * not a raft write: a restarted etcd restores leases). The backoff is not reset by that: if the grant
 * that may follow fails again, the fleet spreads out. Reads answered from the start mean overload, not
 * an outage: then the probing stops and the backoff holds. So does a read that timed out or was refused
 * as too many: etcd is there but behind, and a fleet that took that for an outage would probe twice a
 * second and grant at the first read answered, past its backoff, on the etcd least able to take it
 * (docs/reliability.md, fix 8).
 */
export async function pauseBeforeGrant(
  backoff: GrantBackoff,
  err: unknown,
  probe: () => Promise<{ answered: true } | { answered: false; err: unknown }>,
  signal: AbortSignal,
): Promise<void> {
  const until = Date.now() + backoff.next(err);
  let down = outageKind(err);
  while (!signal.aborted && Date.now() < until) {
    if (down === 'no') {
      await sleep(until - Date.now(), signal);
      return;
    }
    await sleep(Math.min(until - Date.now(), 250 + Math.random() * 500), signal);
    if (signal.aborted || Date.now() >= until) return;
    const r = await probe();
    if (r.answered && down === 'yes') return;
    down = r.answered || outageKind(r.err) !== 'yes' ? 'no' : 'yes';
  }
}

// Whether a failure means etcd is not answering: `no` when etcd itself answered and refused
// (overloaded), `yes` when no connection could be made, `maybe` otherwise (a deadline: hung or slow).
function outageKind(err: unknown): 'yes' | 'no' | 'maybe' {
  const msg = String((err as Error)?.message ?? err);
  if (/etcdserver: (too many requests|request timed out)|RESOURCE_EXHAUSTED/.test(msg)) return 'no';
  if (/UNAVAILABLE|ECONNREFUSED|ECONNRESET|No connection/i.test(msg)) return 'yes';
  return 'maybe';
}
