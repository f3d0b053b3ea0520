// The remedy controller: runs each reaction (one hook for one event) through its recorded states,
// pending → running(owner, attempt) → done | failed | suppressed, every step a compare-and-swap in etcd.
// A new leader resumes what is pending or was running under a dead owner, and never repeats a finished one.
// What remains at-least-once: a hook that ran while its leader died before recording `done` runs again;
// that is why hooks get the event's idempotency key.
import type { Logger } from 'pino';
import type { HookConfig, WatcherSettings } from '../config/watcher.js';
import { isRetryable } from '../errors.js';
import { Backoff, sleep } from '../util/time.js';
import type { Election } from './election.js';
import {
  FINAL_STATES,
  NO_REMEDY,
  decodeReaction,
  type AttemptRecord,
  type HookOutcome,
  type ReactionRecord,
  type ReactionState,
  type SuppressReason,
} from './records.js';
import type { AttemptResult, HookRunners, Invocation } from './hooks/hook.js';
import type { RecordKeeper, Versioned, WriteResult } from './record-keeper.js';
import { Cooldowns, TokenBucket, type GuardState } from './safety.js';

// A reaction whose owner died this many times mid-attempt is given up (the hook may be what kills it).
const MAX_INTERRUPTED = 3;
// Attempts that keep their output in the record (older ones keep the rest of their summary).
const KEEP_OUTPUT = 3;
const MAX_BACKOFF_MS = 60_000;

/** What the reactor needs from the watcher. */
export interface ReactorDeps {
  records: RecordKeeper;
  election: Election;
  hooks: readonly HookConfig[];
  runners: HookRunners;
  settings: WatcherSettings;
  /** The mass-failure guard's verdict now. */
  guard(): GuardState;
  /** Whether the node is still failed from that registration (a remedy for a node back up is moot). */
  stillFailed(node: string, lease: string): boolean;
  log: Logger;
  /** Sees each reaction's final outcome once it is recorded (metrics, the node's history). */
  onOutcome?(hook: string, outcome: HookOutcome, reaction: ReactionRecord): void;
  /** A remedy waits for a rate-limit token (told once per reaction, with the first wait). */
  onRateLimited?(reaction: ReactionRecord, waitMs: number): void;
}

/** Runs reactions for the current leadership term. */
export class Reactor {
  private readonly active = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly hooks: Map<string, HookConfig>;
  private readonly slots = new Map<string, Semaphore>();
  private readonly bucket: TokenBucket;
  private readonly cooldowns: Cooldowns;

  constructor(private readonly deps: ReactorDeps) {
    this.hooks = new Map(deps.hooks.map((h) => [h.name, h]));
    for (const h of deps.hooks) this.slots.set(h.name, new Semaphore(h.concurrency));
    this.bucket = new TokenBucket(deps.settings.rateLimit, Date.now());
    this.cooldowns = new Cooldowns(deps.settings.cooldownMs);
  }

  /** Hooks triggered by an event type (for a type in NO_REMEDY, only alertOnly hooks: nothing to repair). */
  hooksFor(type: string): HookConfig[] {
    const remedy = !(NO_REMEDY as readonly string[]).includes(type);
    return this.deps.hooks.filter((h) => (h.events as string[]).includes(type) && (remedy || h.alertOnly));
  }

  /** Learn recent remedy starts from stored reactions (after a takeover), so cooldowns survive failover. */
  seed(list: Versioned<ReactionRecord>[]): void {
    for (const { record: r } of list) {
      for (const a of r.attempts) this.cooldowns.note(cooldownKey(r), Date.parse(a.startedAt));
      if (r.state === 'running') this.cooldowns.note(cooldownKey(r), Date.parse(r.updatedAt));
    }
  }

  /** Handle a reaction in this term unless it is final or already being handled here. */
  submit(v: Versioned<ReactionRecord>, term: AbortSignal): void {
    if (FINAL_STATES.includes(v.record.state) || this.active.has(v.record.id) || term.aborted) return;
    this.active.add(v.record.id);
    const task = this.handle(v, term)
      .catch((err) => this.deps.log.error({ err, reaction: v.record.id }, 'reaction failed unexpectedly'))
      .finally(() => {
        this.active.delete(v.record.id);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  /** Resolves when every reaction task has ended (abort the term first). */
  async drain(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  private async handle(v: Versioned<ReactionRecord>, term: AbortSignal): Promise<void> {
    let cur: Versioned<ReactionRecord> | undefined = v;
    const log = this.deps.log.child({ reaction: v.record.id });
    const hook = this.hooks.get(v.record.hook);
    if (!hook) {
      await this.finish(cur, 'suppressed', { state: 'suppressed', why: 'hook-removed', detail: 'the hook is no longer configured' }, term, log);
      return;
    }
    const resuming = cur.record.state === 'running';
    await sleep(Date.parse(cur.record.notBefore) - Date.now(), term);
    if (term.aborted) return;

    if (!hook.alertOnly) {
      const why = await this.admit(cur.record, resuming, term);
      if (term.aborted) return;
      if (why) {
        await this.finish(cur, 'suppressed', { state: 'suppressed', ...why }, term, log);
        return;
      }
    }

    const slot = this.slots.get(hook.name)!;
    if (!(await slot.acquire(term))) return;
    try {
      if (resuming) {
        // The previous owner died mid-attempt: it may or may not have run. Record that and run again.
        const r = cur.record;
        const interrupted: AttemptRecord = {
          attempt: r.attempts.length + 1,
          owner: r.owner?.id ?? 'unknown',
          startedAt: r.updatedAt,
          state: 'interrupted',
          durationMs: 0,
          output: '',
        };
        cur = await this.advance(cur, { attempts: [...r.attempts, interrupted], state: 'pending' }, false, term, log);
        if (!cur) return;
      }
      await this.attempts(hook, cur, term, log);
    } finally {
      slot.release();
    }
  }

  // Safety for remedy hooks: the mass-failure guard, the per-node cooldown, the global rate limit (waits).
  private async admit(
    r: ReactionRecord,
    resuming: boolean,
    term: AbortSignal,
  ): Promise<{ why: SuppressReason; detail: string } | undefined> {
    const guarded = (): { why: SuppressReason; detail: string } | undefined => {
      const e = r.event;
      if (e.event === 'NodeFailed' && !this.deps.stillFailed(e.node, e.lease)) {
        return { why: 'recovered', detail: 'the node registered again before the hook started' };
      }
      const g = this.deps.guard();
      return g.tripped
        ? { why: 'mass-failure', detail: `${g.nodes.length} of ${g.known} known nodes failed within the window` }
        : undefined;
    };
    const first = guarded();
    if (first || resuming) return first;
    const until = this.cooldowns.blockedUntil(cooldownKey(r), Date.now());
    if (until !== undefined) {
      return { why: 'cooldown', detail: `hook ran for this node and event type recently; cooldown until ${new Date(until).toISOString()}` };
    }
    for (let waits = 0; ; waits++) {
      const t = this.bucket.take(Date.now());
      if (t.ok) break;
      this.deps.log.debug({ reaction: r.id, waitMs: t.waitMs }, 'rate limited');
      if (waits === 0) this.deps.onRateLimited?.(r, t.waitMs);
      await sleep(t.waitMs, term);
      if (term.aborted) return undefined;
    }
    const last = guarded();
    // Claim the cooldown now, so a second reaction for the same node cannot slip in before this one starts.
    if (!last) this.cooldowns.note(cooldownKey(r), Date.now());
    return last;
  }

  private async attempts(hook: HookConfig, start: Versioned<ReactionRecord>, term: AbortSignal, log: Logger): Promise<void> {
    let cur: Versioned<ReactionRecord> | undefined = start;
    for (;;) {
      const r: ReactionRecord = cur.record;
      const failures = r.attempts.filter((a) => a.state === 'failed' || a.state === 'timeout').length;
      const interrupted = r.attempts.filter((a) => a.state === 'interrupted').length;
      if (interrupted >= MAX_INTERRUPTED) {
        await this.finish(cur, 'failed', outcomeOf(r, 'failed', `given up: interrupted ${interrupted} times`), term, log);
        return;
      }
      const attempt = r.attempts.length + 1;
      const owner = { id: this.deps.settings.id, lease: this.deps.election.leaseId ?? '' };
      cur = await this.advance(cur, { state: 'running', owner }, false, term, log);
      if (!cur) return;
      this.cooldowns.note(cooldownKey(r), Date.now());
      const inv: Invocation = { event: r.event, hook: hook.name, attempt, watcherId: this.deps.settings.id };
      const startedAt = new Date().toISOString();
      log.info({ event: r.event.event, node: r.event.node, id: r.event.id, hook: hook.name, attempt }, 'hook started');
      const runner = this.deps.runners[hook.kind] as { run(c: HookConfig, i: Invocation, s: AbortSignal): Promise<AttemptResult> };
      const res = await runner.run(hook, inv, term);
      // Deposed or shutting down: leave it `running`; the next leader sees a dead owner and resumes.
      if (term.aborted) return;
      const rec: AttemptRecord = { attempt, owner: owner.id, startedAt, ...res };
      const attempts = trimOutputs([...cur.record.attempts, rec]);
      if (res.state === 'ok') {
        await this.finish(cur, 'done', outcomeOf({ ...cur.record, attempts }, 'ok'), term, log, attempts);
        return;
      }
      if (failures + 1 > hook.retries) {
        await this.finish(cur, 'failed', outcomeOf({ ...cur.record, attempts }, res.state), term, log, attempts);
        return;
      }
      log.warn({ hook: hook.name, attempt, state: res.state, exitCode: res.exitCode, error: res.error }, 'hook attempt failed; will retry');
      cur = await this.advance(cur, { attempts, state: 'pending' }, false, term, log);
      if (!cur) return;
      await sleep(Math.min(MAX_BACKOFF_MS, hook.backoffMs * 2 ** failures), term);
      if (term.aborted) return;
    }
  }

  private async finish(
    cur: Versioned<ReactionRecord>,
    state: ReactionState,
    outcome: HookOutcome,
    term: AbortSignal,
    log: Logger,
    attempts?: AttemptRecord[],
  ): Promise<void> {
    const done = await this.advance(cur, { state, outcome, owner: null, ...(attempts ? { attempts } : {}) }, true, term, log);
    if (!done) return;
    const r = done.record;
    log.info(
      { event: r.event.event, node: r.event.node, id: r.event.id, hook: r.hook, outcome },
      'hook outcome',
    );
    this.deps.onOutcome?.(r.hook, outcome, r);
    await this.deps.records.noteOutcome(r.event.id, r.hook, outcome).catch((err) => log.debug({ err }, 'outcome not copied into event'));
  }

  // One compare-and-swap step; retried while etcd is away. Undefined: stop (deposed, or someone else moved it).
  private async advance(
    cur: Versioned<ReactionRecord>,
    change: Partial<ReactionRecord>,
    final: boolean,
    term: AbortSignal,
    log: Logger,
  ): Promise<Versioned<ReactionRecord> | undefined> {
    const next: ReactionRecord = { ...cur.record, ...change, updatedAt: new Date().toISOString() };
    const backoff = new Backoff(100, 2_000);
    while (!term.aborted) {
      let res: WriteResult;
      try {
        res = await this.deps.records.updateReaction(next, cur.modRevision, final);
      } catch (err) {
        if (!isRetryable(err)) throw err;
        log.debug({ err }, 'reaction update not answered; retrying');
        await sleep(backoff.next(), term);
        continue;
      }
      if (res.ok) return { record: next, modRevision: res.revision };
      if (res.why === 'not-leader') return undefined;
      // A write that timed out may have landed: if etcd holds exactly what we wrote, it did.
      const current = res.current;
      if (current && current.value.toString() === JSON.stringify(next)) return { record: next, modRevision: current.modRevision };
      const seen = current ? decodeReaction(current) : undefined;
      log.warn({ state: seen && !(seen instanceof Error) ? seen.state : 'gone' }, 'reaction changed under us; leaving it');
      return undefined;
    }
    return undefined;
  }
}

// The cooldown applies per hook, node and event type: a remedy does not repeat for a flapping node.
function cooldownKey(r: ReactionRecord): string {
  return `${r.hook}\0${r.event.node}\0${r.event.event}`;
}

function outcomeOf(r: ReactionRecord, state: 'ok' | 'failed' | 'timeout', error?: string): HookOutcome {
  const last = [...r.attempts].reverse().find((a) => a.state !== 'interrupted');
  const attempts = r.attempts.filter((a) => a.state !== 'interrupted').length;
  if (state === 'ok') return { state: 'ok', attempts, durationMs: last?.durationMs ?? 0, output: last?.output ?? '' };
  const o: HookOutcome = { state, attempts, durationMs: last?.durationMs ?? 0, output: last?.output ?? '' };
  if (last?.exitCode !== undefined) o.exitCode = last.exitCode;
  if (last?.httpStatus !== undefined) o.httpStatus = last.httpStatus;
  const err = error ?? last?.error;
  if (err !== undefined) o.error = err;
  return o;
}

function trimOutputs(attempts: AttemptRecord[]): AttemptRecord[] {
  return attempts.map((a, i) => (i < attempts.length - KEEP_OUTPUT && a.output ? { ...a, output: '' } : a));
}

/** Bounded concurrency: at most `size` holders. */
class Semaphore {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly size: number) {}

  /** Wait for a slot; false when `signal` aborted first. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    while (this.held >= this.size) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          const i = this.waiters.indexOf(done);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve();
        };
        this.waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.held++;
    return true;
  }

  /** Give a slot back. */
  release(): void {
    this.held--;
    this.waiters.shift()?.();
  }
}
