// The log monitor: applies a rule file to a log source. Temporary rules become events, permanent rules
// set conditions True, recovery rules and expiry windows set them back to False.
//
// Bounded under floods: identical events coalesce into one entry with a count; the table of entries has
// a fixed size (past it, new messages fold into one entry per reason); events and condition changes
// leave only at flush ticks, events through a token bucket. A flood therefore costs CPU per line (a few
// anchored regexes on at most 4 KiB) but memory and writes stay fixed.
//
// Restarts: lines at or before the restored watermark (`since`) were handled by the previous run and
// are skipped, so the lookback window fills gaps without replaying old events as new.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Backoff, sleep } from '../util/time.js';
import { matchingRules, type ConditionDef, type Rule, type RuleSet } from './rules.js';
import type { Condition, EventSeverity, LogLine, LogSource, ProblemEvent } from './types.js';

/** Flood limits; every field has a default. */
export interface MonitorLimits {
  /** Distinct events held for coalescing (default 256). */
  maxEvents: number;
  /** Token bucket for emitted events: burst size (default 20)... */
  eventBurst: number;
  /** ...and refill rate (default 30 per minute). */
  eventsPerMinute: number;
  /** An event absorbs identical lines (same id, growing count) until it has been quiet this long (default 10 min). */
  coalesceWindowMs: number;
  /** How often events and condition changes are emitted (default 1 s). */
  flushIntervalMs: number;
}

/** Defaults of MonitorLimits. */
export const DEFAULT_LIMITS: MonitorLimits = {
  maxEvents: 256,
  eventBurst: 20,
  eventsPerMinute: 30,
  coalesceWindowMs: 10 * 60_000,
  flushIntervalMs: 1_000,
};

/** State restored from etcd at start. */
export interface MonitorRestore {
  /** The conditions as last written (types this rule file does not declare are ignored). */
  conditions?: readonly Condition[];
  /** Watermark: time (ms since epoch) of the last line the previous run handled. */
  since?: number;
  /** Boot id the restored state belongs to; with `resetOnBoot`, another boot starts from defaults. */
  bootId?: string;
}

/** Options of LogMonitor. */
export interface LogMonitorOptions {
  rules: RuleSet;
  source: LogSource;
  log: Logger;
  /** All of this monitor's conditions, called at a flush tick when any status or reason changed. */
  onConditions: (conditions: Condition[]) => void;
  /** New or updated (higher count) events, at most one batch per flush tick, rate-capped. */
  onEvents: (events: ProblemEvent[]) => void;
  restore?: MonitorRestore;
  /** This boot's id (src/facts identity), for `resetOnBoot`. */
  bootId?: string;
  limits?: Partial<MonitorLimits>;
  now?: () => number;
}

/** Counters for tests, benchmarks and debug logs. */
export interface MonitorStats {
  lines: number;
  matched: number;
  /** Lines skipped as already handled (≤ watermark) or older than the lookback window. */
  skipped: number;
  /** Events emitted (each batch item counts; an updated count re-emits the same id). */
  emitted: number;
  /** Flushes that left events waiting for lack of tokens. */
  rateLimited: number;
  /** Entries in the coalescing table now, and the most ever. */
  tableSize: number;
  tableHighWater: number;
}

interface Entry {
  event: ProblemEvent;
  firstMs: number;
  lastMs: number;
  /** Wall-clock time of the last line, for eviction (line times may be old during lookback). */
  seenAt: number;
  /** Count not yet emitted. */
  dirty: boolean;
}

// Lines handled between yields to the event loop, so a flood cannot starve keepalives.
const YIELD_EVERY = 2_000;

/** Applies one rule set to one log source. */
export class LogMonitor {
  private readonly limits: MonitorLimits;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly defs: Map<string, ConditionDef>;
  private readonly state = new Map<string, Condition>();
  /** When each True condition expires (ms), for conditions with expireAfter. */
  private readonly expiresAt = new Map<string, number>();
  private emittedConditions: string;
  private readonly table = new Map<string, Entry>();
  private tokens: number;
  private tokensAt: number;
  private watermarkMs: number;
  /** Lines at or before this time were handled already (by the previous run, or before a source restart). */
  private skipUntil: number;
  private readonly idSalt = randomBytes(3).toString('hex');
  private seq = 0;
  private readonly counters = { lines: 0, matched: 0, skipped: 0, emitted: 0, rateLimited: 0, tableHighWater: 0 };

  constructor(private readonly options: LogMonitorOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.log = options.log.child({ component: 'problems', monitor: options.rules.source, source: options.source.name });
    this.defs = new Map(options.rules.conditions.map((d) => [d.type, d]));
    this.tokens = this.limits.eventBurst;
    this.tokensAt = this.now();
    this.watermarkMs = options.restore?.since ?? 0;
    this.skipUntil = options.restore?.since ?? -Infinity;

    const restore = options.restore;
    const sameBoot = !options.rules.resetOnBoot || (restore?.bootId !== undefined && restore.bootId === options.bootId);
    const nowIso = new Date(this.now()).toISOString();
    for (const def of options.rules.conditions) {
      const old = sameBoot ? restore?.conditions?.find((c) => c.type === def.type) : undefined;
      this.state.set(def.type, old ? { ...old } : defaultCondition(def, nowIso));
      // The last match time of a restored True condition is unknown: its expiry clock restarts now.
      if (old?.status === 'True' && def.expireAfterMs !== undefined) this.expiresAt.set(def.type, this.now() + def.expireAfterMs);
    }
    this.emittedConditions = this.conditionKey();
  }

  /** The current conditions (every declared type, in rule-file order). */
  conditions(): Condition[] {
    return [...this.state.values()].map((c) => ({ ...c }));
  }

  /** Time of the newest line handled (ms since epoch): persist it and pass it back as `restore.since`. */
  watermark(): number {
    return this.watermarkMs;
  }

  /** Counters (see MonitorStats). */
  stats(): MonitorStats {
    return { ...this.counters, tableSize: this.table.size };
  }

  /** Follow the source until `signal` aborts (restarting it with backoff if it fails); flush at the end. */
  async run(signal: AbortSignal): Promise<void> {
    const tick = setInterval(() => this.flush(false), this.limits.flushIntervalMs);
    const backoff = new Backoff(1_000, 60_000);
    try {
      while (!signal.aborted) {
        // A restarted source reads its lookback again: skip what this run already handled.
        if (this.watermarkMs > this.skipUntil) this.skipUntil = this.watermarkMs;
        try {
          let n = 0;
          for await (const line of this.options.source.lines(signal)) {
            this.ingest(line);
            if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
            if (n === 1) backoff.reset();
          }
          if (signal.aborted) break;
          this.log.warn('log source ended; restarting it');
        } catch (err) {
          if (signal.aborted) break;
          this.log.warn({ err }, 'log source failed; restarting it');
        }
        await sleep(backoff.next(), signal);
      }
    } finally {
      clearInterval(tick);
      this.flush(true);
    }
  }

  /** Handle one line (exposed for tests and for sources driven from outside). */
  ingest(line: LogLine): void {
    this.counters.lines++;
    const now = this.now();
    // Only the restored watermark filters: within a run many lines share a timestamp (syslog seconds,
    // a file's mtime) and every one of them counts.
    if (line.time <= this.skipUntil || (this.options.rules.lookbackMs > 0 && line.time < now - this.options.rules.lookbackMs)) {
      this.counters.skipped++;
      return;
    }
    if (line.time > this.watermarkMs) this.watermarkMs = line.time;
    const matches = matchingRules(this.options.rules.rules, line.text);
    if (matches.length === 0) return;
    this.counters.matched++;
    for (const rule of matches) this.apply(rule, line, now);
  }

  /**
   * Emit what is pending: condition changes (if any status or reason changed since the last emit) and
   * dirty events while tokens last. `force` ignores the token bucket (final flush at shutdown).
   */
  flush(force: boolean): void {
    const now = this.now();
    this.expire(now);
    const key = this.conditionKey();
    if (key !== this.emittedConditions) {
      this.emittedConditions = key;
      this.options.onConditions(this.conditions());
    }

    this.refill(now);
    const out: ProblemEvent[] = [];
    let limited = false;
    for (const [k, e] of this.table) {
      if (e.dirty) {
        if (!force && this.tokens < 1) {
          limited = true;
          continue;
        }
        if (!force) this.tokens -= 1;
        e.dirty = false;
        out.push({ ...e.event });
      } else if (now - e.seenAt > this.limits.coalesceWindowMs) {
        this.table.delete(k);
      }
    }
    if (limited) this.counters.rateLimited++;
    if (out.length > 0) {
      this.counters.emitted += out.length;
      this.options.onEvents(out);
    }
  }

  private apply(rule: Rule, line: LogLine, now: number): void {
    if (rule.type === 'temporary') {
      this.record(rule.reason, line.text, 'warn', line.time, now);
      return;
    }
    const type = rule.condition!;
    const cur = this.state.get(type)!;
    const def = this.defs.get(type)!;
    if (rule.type === 'permanent') {
      if (def.expireAfterMs !== undefined) this.expiresAt.set(type, Math.max(this.expiresAt.get(type) ?? 0, line.time + def.expireAfterMs));
      // node-problem-detector: a change is a change of status or reason; the message follows the change.
      if (cur.status === 'True' && cur.reason === rule.reason) return;
      this.transition(type, { status: 'True', reason: rule.reason, message: line.text }, line.time, now);
    } else {
      this.expiresAt.delete(type);
      if (cur.status === 'False') return;
      this.transition(type, { status: 'False', reason: rule.reason, message: line.text }, line.time, now);
    }
  }

  private transition(type: string, next: Pick<Condition, 'status' | 'reason' | 'message'>, at: number, now: number): void {
    const iso = new Date(at).toISOString();
    this.state.set(type, { type, ...next, lastTransitionTime: iso });
    this.log.info({ condition: type, status: next.status, reason: next.reason, line: next.message }, 'condition changed');
    this.record(next.reason, `${type} is now ${next.status}: ${next.message}`, 'info', at, now);
  }

  private expire(now: number): void {
    for (const [type, at] of this.expiresAt) {
      if (at > now) continue;
      this.expiresAt.delete(type);
      const def = this.defs.get(type)!;
      if (this.state.get(type)?.status !== 'True') continue;
      this.transition(type, { status: 'False', reason: def.reason, message: `${def.message} (no matching line for ${Math.round(def.expireAfterMs! / 1000)}s)` }, now, now);
    }
  }

  // Count one occurrence into the coalescing table (bounded: past maxEvents, one entry per reason).
  private record(reason: string, message: string, severity: EventSeverity, at: number, now: number): void {
    let key = `${reason}\u0000${message}`;
    let e = this.table.get(key);
    if (!e && this.table.size >= this.limits.maxEvents) {
      key = `${reason}\u0000*`;
      e = this.table.get(key);
      message = `${message} (and other ${reason} messages; too many distinct messages to keep apart)`;
    }
    if (e) {
      e.event.count++;
      if (at > e.lastMs) {
        e.lastMs = at;
        e.event.lastTime = new Date(at).toISOString();
      }
      e.seenAt = now;
      e.dirty = true;
      return;
    }
    const iso = new Date(at).toISOString();
    this.table.set(key, {
      event: {
        id: `${at}-${reason}-${this.idSalt}${(this.seq++).toString(36)}`,
        source: this.options.rules.source,
        reason,
        message,
        count: 1,
        firstTime: iso,
        lastTime: iso,
        severity,
      },
      firstMs: at,
      lastMs: at,
      seenAt: now,
      dirty: true,
    });
    this.counters.tableHighWater = Math.max(this.counters.tableHighWater, this.table.size);
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.tokensAt);
    this.tokensAt = now;
    this.tokens = Math.min(this.limits.eventBurst, this.tokens + (elapsed * this.limits.eventsPerMinute) / 60_000);
  }

  private conditionKey(): string {
    return [...this.state.values()].map((c) => `${c.type}=${c.status}/${c.reason}`).join(',');
  }
}

/** A declared condition in its default state: False with the declared reason and message. */
export function defaultCondition(def: ConditionDef, at: string): Condition {
  return { type: def.type, status: 'False', reason: def.reason, message: def.message, lastTransitionTime: at };
}
