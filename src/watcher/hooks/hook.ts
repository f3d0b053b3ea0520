// The seam for hook kinds: a runner takes its hook's config, one invocation and a signal, and resolves an
// outcome value (never throws because the hook failed). Retries, concurrency and safety live in the reactor.
import type { HookConfig, HookKind } from '../../config/watcher.js';
import type { NodeEvent } from '../records.js';

/** One run of one hook for one event. */
export interface Invocation {
  event: Omit<NodeEvent, 'hooks'>;
  hook: string;
  /** 1-based attempt number across leaders. */
  attempt: number;
  watcherId: string;
}

/** How one attempt ended. */
export interface AttemptResult {
  state: 'ok' | 'failed' | 'timeout';
  durationMs: number;
  /** Captured output (capped, with a note when cut). */
  output: string;
  exitCode?: number;
  httpStatus?: number;
  error?: string;
}

/** Runs one hook kind. `signal` aborts the attempt (shutdown, lost leadership): kill it and resolve. */
export interface HookRunner<C extends HookConfig = HookConfig> {
  run(config: C, inv: Invocation, signal: AbortSignal): Promise<AttemptResult>;
}

/** One runner per hook kind. */
export type HookRunners = { [K in HookKind]: HookRunner<Extract<HookConfig, { kind: K }>> };

/** The event as a hook receives it: JSON on stdin or as the request body. */
export function payload(inv: Invocation): string {
  return JSON.stringify({ ...inv.event, hook: inv.hook, attempt: inv.attempt, idempotencyKey: inv.event.id });
}

/** The BEACON_* variables an exec hook gets (webhooks get the same as X-Beacon-* headers where useful). */
export function beaconEnv(inv: Invocation): Record<string, string> {
  const e = inv.event;
  return {
    BEACON_EVENT: e.event,
    BEACON_EVENT_ID: e.id,
    BEACON_IDEMPOTENCY_KEY: e.id,
    BEACON_EVENT_TIME: e.time,
    BEACON_NODE: e.node,
    BEACON_NODE_ADDRESS: e.address,
    BEACON_NODE_LEASE: e.lease,
    BEACON_NODE_BOOT_ID: e.bootId,
    BEACON_REASON: e.reason,
    BEACON_HOOK: inv.hook,
    BEACON_ATTEMPT: String(inv.attempt),
    BEACON_WATCHER_ID: inv.watcherId,
  };
}
