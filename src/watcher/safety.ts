// The remedy controller's brakes, modelled on Kubernetes' node lifecycle controller (rate-limited
// evictions, unhealthy-zone threshold) and node-problem-detector's repair cooldown. Pure: time is passed in.
import type { MassFailureConfig, RateLimitConfig } from '../config/watcher.js';

/** Global token bucket: one token every `everyMs`, at most `burst` saved. */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly cfg: RateLimitConfig,
    now: number,
  ) {
    this.tokens = cfg.burst;
    this.updated = now;
  }

  private refill(now: number): void {
    if (now > this.updated) {
      this.tokens = Math.min(this.cfg.burst, this.tokens + (now - this.updated) / this.cfg.everyMs);
      this.updated = now;
    }
  }

  /** Take a token if one is there; otherwise how long until one is (ms). */
  take(now: number): { ok: true } | { ok: false; waitMs: number } {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil((1 - this.tokens) * this.cfg.everyMs) };
  }
}

/** When a remedy last started, per key (the reactor uses hook, node and event type). */
export class Cooldowns {
  private readonly last = new Map<string, number>();

  constructor(private readonly cooldownMs: number) {}

  /** Remember a start at `at` (a later time wins). */
  note(key: string, at: number): void {
    if (Number.isFinite(at) && (this.last.get(key) ?? -Infinity) < at) this.last.set(key, at);
  }

  /** Until when `key` may not start again, or undefined when it may start now. */
  blockedUntil(key: string, now: number): number | undefined {
    const at = this.last.get(key);
    if (at === undefined) return undefined;
    const until = at + this.cooldownMs;
    return until > now ? until : undefined;
  }
}

/** What the mass-failure guard sees: nodes registered now, and failures with their time. */
export interface Population {
  /** Nodes currently up or leaving. */
  up: number;
  /** Nodes currently failed, with when they failed (ms). */
  failed: { node: string; at: number }[];
}

/** The guard's verdict at one moment. */
export interface GuardState {
  tripped: boolean;
  /** Nodes failed within the window. */
  nodes: string[];
  /** Nodes known at the start of the window (up now + failed within it). */
  known: number;
}

/**
 * Trips when at least `share` of the known nodes failed within the window (and at least `minNodes` are
 * known): the likelier story is then that the watcher or etcd is cut off, so remedies must wait.
 */
export class MassFailureGuard {
  private tripped = false;

  constructor(private readonly cfg: MassFailureConfig) {}

  /** Evaluate; `changed` is true on the transition into or out of the tripped state. */
  evaluate(pop: Population, now: number): GuardState & { changed: boolean } {
    const recent = pop.failed.filter((f) => now - f.at <= this.cfg.windowMs);
    const known = pop.up + recent.length;
    const tripped = known >= this.cfg.minNodes && recent.length > 0 && recent.length / known >= this.cfg.share;
    const changed = tripped !== this.tripped;
    this.tripped = tripped;
    return { tripped, nodes: recent.map((f) => f.node).sort(), known, changed };
  }

  /** The last verdict (without re-evaluating). */
  get isTripped(): boolean {
    return this.tripped;
  }
}
