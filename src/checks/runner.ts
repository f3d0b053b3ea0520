// The one runner every check kind shares (Consul's split: probes differ, the lifecycle does not).
// It owns the random initial stagger, the interval, the per-attempt deadline, never-overlapping
// attempts and the anti-flap thresholds, and reports only changes of the effective status.
import type { Logger } from 'pino';
import { formatDuration } from '../util/duration.js';
import type { HealthStatus } from '../types.js';
import { sleep } from '../util/time.js';
import { describeTarget } from './spec.js';
import { TIMEOUT_REASON, type CheckResult, type CheckSpec, type Probe } from './types.js';

/** The effective state of one check, as the runner last decided it. */
export interface CheckState {
  status: HealthStatus;
  output: string;
  /** When `status` last changed (ms since epoch); the runner's start for the initial status. */
  since: number;
}

/** What `onChange` receives: the check, its new state and the status it left. */
export interface CheckChange {
  spec: CheckSpec;
  state: CheckState;
  previous: HealthStatus;
}

/** Options of a CheckRunner. */
export interface CheckRunnerOptions {
  /** The probe for this spec's kind (see createProbes / probeFor). */
  probe: Probe;
  log: Logger;
  /** Called when the effective status changes (never for a steady status, whatever its output). */
  onChange: (change: CheckChange) => void;
  /** Source of randomness for the stagger, in [0, 1) (tests pin it). */
  random?: () => number;
  now?: () => number;
}

/**
 * Consul's StatusHandler: passing/warning results count as successes, critical as failures.
 * A success streak reaching successBeforePassing reports the result; a failure streak reports critical at
 * failuresBeforeCritical, warning at failuresBeforeWarning, and nothing before that.
 */
export class Thresholds {
  private successes = 0;
  private failures = 0;

  constructor(private readonly spec: Pick<CheckSpec, 'successBeforePassing' | 'failuresBeforeWarning' | 'failuresBeforeCritical'>) {}

  /** Feed one probe result; returns the result to apply, or undefined to keep the current status. */
  feed(result: CheckResult): CheckResult | undefined {
    if (result.status !== 'critical') {
      this.successes++;
      this.failures = 0;
      return this.successes >= this.spec.successBeforePassing ? result : undefined;
    }
    this.failures++;
    this.successes = 0;
    if (this.failures >= this.spec.failuresBeforeCritical) return result;
    if (this.failures >= this.spec.failuresBeforeWarning) return { status: 'warning', output: result.output };
    return undefined;
  }
}

/** Runs one check until its signal aborts. */
export class CheckRunner {
  private current: CheckState;
  private readonly thresholds: Thresholds;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly now: () => number;
  private attempts = 0;

  constructor(
    readonly spec: CheckSpec,
    private readonly options: CheckRunnerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.current = { status: spec.initialStatus, output: '', since: this.now() };
    this.thresholds = new Thresholds(spec);
    this.log = options.log.child({ component: 'check', check: spec.id, service: spec.service, kind: spec.kind });
  }

  /** The effective state right now. */
  get state(): CheckState {
    return this.current;
  }

  /** How many probe attempts have completed (for tests and metrics). */
  get attemptCount(): number {
    return this.attempts;
  }

  /** Probe on schedule (or, for ttl, as reports arrive) until `signal` aborts; resolves once the last attempt is released. */
  async run(signal: AbortSignal): Promise<void> {
    this.log.debug({ target: describeTarget(this.spec) }, 'check started');
    if (this.spec.kind === 'ttl') {
      // Push check: the probe is a long poll on the TTL board, paced by reports, not by a clock.
      while (!signal.aborted) {
        const result = await this.attempt(signal, undefined);
        if (signal.aborted) break;
        this.apply(result);
      }
      return;
    }
    // Random stagger so a fleet restarted together does not probe in lockstep.
    await sleep(Math.floor(this.random() * this.spec.intervalMs), signal);
    while (!signal.aborted) {
      const started = this.now();
      const result = await this.attempt(signal, this.spec.timeoutMs);
      if (signal.aborted) break;
      this.apply(result);
      // Fixed cadence from the start of each attempt; an attempt never overlaps the next (timeout < interval).
      await sleep(Math.max(0, started + this.spec.intervalMs - this.now()), signal);
    }
  }

  // One probe call under its own deadline; a throwing probe is a bug, reported as critical, not a crash.
  private async attempt(signal: AbortSignal, timeoutMs: number | undefined): Promise<CheckResult> {
    const deadline = new AbortController();
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => deadline.abort(new DOMException(`check timed out after ${formatDuration(timeoutMs)}`, TIMEOUT_REASON)), timeoutMs);
    try {
      const result = await this.options.probe(this.spec, AbortSignal.any([signal, deadline.signal]));
      if (deadline.signal.aborted && result.status !== 'critical') {
        // The deadline passed while the probe was finishing: the attempt still failed to answer in time.
        return { status: 'critical', output: `timed out after ${formatDuration(timeoutMs ?? 0)}` };
      }
      return result;
    } catch (err) {
      this.log.warn({ err }, 'probe threw; counted as critical');
      return { status: 'critical', output: `check failed: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      clearTimeout(timer);
      this.attempts++;
    }
  }

  private apply(result: CheckResult): void {
    this.log.debug({ status: result.status }, 'check result');
    const next = this.thresholds.feed(result);
    if (!next) return;
    if (next.status === this.current.status) {
      // Same status: keep the fresh output for status queries, but it is not a change.
      this.current = { ...this.current, output: next.output };
      return;
    }
    const previous = this.current.status;
    this.current = { status: next.status, output: next.output, since: this.now() };
    const level = next.status === 'passing' ? 'info' : 'warn';
    this.log[level]({ status: next.status, previous, output: next.output }, 'check status changed');
    this.options.onChange({ spec: this.spec, state: this.current, previous });
  }
}
