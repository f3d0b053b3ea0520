// The shapes the fleet orchestrator and its worker processes exchange over the fork IPC channel.

/** The five services every virtual node announces. */
export const SERVICES = ['web', 'api', 'db', 'cache', 'metrics'] as const;

/** Which announce pattern a fleet runs: beacon's registration, or the sidekick rewrite loop. */
export type Side = 'beacon' | 'sidekick';

/** Everything a worker needs to run its share of the fleet. */
export interface WorkerSpec {
  side: Side;
  endpoints: string[];
  prefix: string;
  /** Lease TTL in seconds (both sides). */
  ttl: number;
  /** Beacon: keepalive interval; sidekick: rewrite interval of each key (ms). */
  intervalMs: number;
  /** Registrations (beacon) or first announce rounds (sidekick) in flight at once, in this worker. */
  concurrency: number;
  /** One etcd3 client per virtual node (as real agents have), one per worker, or one per this many nodes. */
  clientPer: 'node' | 'worker' | number;
  /** Keepalives as an agent sends them (a short stream per call), or on a long-lived stream per lease (keepalive-streams.ts). */
  keepaliveStream: 'call' | 'lease';
  /** Global indices of the virtual nodes this worker runs. */
  nodes: number[];
}

/** Counters a worker keeps, summed over its virtual nodes. Monotonic: the orchestrator takes differences. */
export interface Counters {
  /** Lease keepalive requests sent (beacon). */
  keepalives: number;
  keepaliveErrors: number;
  /** Lease grants (beacon: one per registration; sidekick: one per key per refresh). */
  grants: number;
  /** Single-key puts (sidekick: one per key per refresh). */
  puts: number;
  /** Transactions with writes (beacon's registration and updates). */
  writeTxns: number;
  /** Reads: beacon's periodic verify of its own keys (a read-only transaction), gets, lists. */
  reads: number;
  revokes: number;
  /** Watches opened (beacon watches its own keys to repair hand-made changes). */
  watches: number;
  /** Beacon: `lost` events (registration lost and redone). */
  lost: number;
  /** Sidekick: refreshes done, failed, started more than 1 s late, and finished after the previous lease's TTL. */
  refreshes: number;
  refreshErrors: number;
  lateRefreshes: number;
  /** A refresh that landed after its previous lease's TTL: the key may have vanished (a false failure). */
  gaps: number;
  /** Sidekick: the largest start delay of any refresh, ms. */
  maxLatenessMs: number;
}

/** A fresh set of counters. */
export function zeroCounters(): Counters {
  return {
    keepalives: 0,
    keepaliveErrors: 0,
    grants: 0,
    puts: 0,
    writeTxns: 0,
    reads: 0,
    revokes: 0,
    watches: 0,
    lost: 0,
    refreshes: 0,
    refreshErrors: 0,
    lateRefreshes: 0,
    gaps: 0,
    maxLatenessMs: 0,
  };
}

/** Error messages seen by a worker, ids blanked, with their counts (what "errors" were, in the report). */
export type ErrorTally = Record<string, number>;

/** Count one error under its message (keys, lease ids, numbers and gRPC timing details blanked so like errors group). */
export function tally(t: ErrorTally, err: unknown): void {
  const msg = (err instanceof Error ? err.message : String(err))
    .replace(/\/\S+/g, '<key>')
    .replace(/\b[0-9a-f]{6,}\b|\d+(\.\d+)?/g, '#')
    .split(',')[0]! // gRPC appends per-call timing details after the first comma
    .slice(0, 120);
  t[msg] = (t[msg] ?? 0) + 1;
}

/** Orchestrator → worker. */
export type ToWorker = { type: 'start'; spec: WorkerSpec } | { type: 'sample' } | { type: 'stop' };

/** Worker → orchestrator. */
export type FromWorker =
  | { type: 'ready' }
  /** Virtual nodes registered so far (sent as it grows, batched). */
  | { type: 'progress'; registered: number }
  /** Every virtual node of the worker registered once; `ms` since the start message. */
  | { type: 'ramped'; registered: number; ms: number }
  /** `loopLagMs`: the worker's largest event-loop delay since its previous sample (its CPU saturating shows here first). */
  | { type: 'sample'; counters: Counters; registeredNow: number; errors: ErrorTally; loopLagMs: number }
  /** Every node stopped; `errors` seen while stopping (beacon: leaves not recorded). */
  | { type: 'stopped'; ms: number; errors: ErrorTally }
  | { type: 'failed'; error: string };
