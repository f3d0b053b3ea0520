// `beacon render`'s core: follow the registry's node and service keys, render the template on every change
// (debounced, one render at a time) and hand changed text to the Target. etcd going away changes nothing on
// disk: the last good render stays in place and the status says etcd is down until a fresh listing. A failed
// reload is retried with a capped backoff from the same loop (so never during a render): without it the
// program keeps its old config until the registry happens to change again.
import type { Logger } from 'pino';
import { follow, type FollowStore } from '../client/follow.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import { Backoff, sleep } from '../util/time.js';
import { deadline } from '../util/deadline.js';
import { writeAtomic, type ApplyResult, type Target } from './target.js';
import { buildContext, type RenderTemplate } from './template.js';

/** Where a render went wrong. */
export type RenderStage = 'render' | 'check' | 'write' | 'reload';

/** What one render step did: the target's result, or the stage that failed. */
export type StepResult = ApplyResult | { result: 'same-text' } | { result: 'failed'; stage: 'render' | 'write'; error: string };

/** The renderer's own health, as logged, kept in memory and written to the health file. */
export interface RenderStatus {
  /** etcd answers, and the last render was installed (or needed nothing). */
  healthy: boolean;
  /** `unknown` until the first listing; `down` during a gap (the last good render stays in place). */
  etcd: 'unknown' | 'up' | 'down';
  target: string;
  /** Templates rendered. */
  renders: number;
  /** Times the target was replaced. */
  writes: number;
  /** Renders refused by the check command. */
  checkFailures: number;
  /** When the target was last replaced, ISO 8601. */
  lastWrite?: string;
  /** The last failure, cleared by the next render that is installed (or found already in place); a reload failure also by a retry that succeeds. */
  lastError?: { at: string; stage: RenderStage; message: string; output?: string };
  updatedAt: string;
}

/** Settings of one renderer. */
export interface RendererOptions {
  template: RenderTemplate;
  target: Target;
  /** Changes within this long after the first one are rendered together (default 500 ms). */
  debounceMs?: number;
  /** Write the status as JSON here (atomically) whenever it changes. */
  healthFile?: string;
  /** How often etcd is probed while quiet (default 2000 ms). */
  probeIntervalMs?: number;
  /** Deadline of a listing (default the store's request timeout, else 2000 ms). */
  requestTimeoutMs?: number;
  /** Follow and render only these services (default every service); nodes are always followed. */
  services?: readonly string[];
  /** Backoff of reload retries: jittered, from `baseMs` doubling up to `capMs` (default 1 s to 30 s). */
  reloadRetry?: { baseMs: number; capMs: number };
}

// A reload that failed after its file went in: retried until it succeeds or a newer render's reload runs.
interface PendingReload {
  backoff: Backoff;
  /** Retries run so far. */
  attempts: number;
  /** When the next retry is due (Date.now() clock). */
  dueAt: number;
  /** The failure the status reports while the reload is pending. */
  error: NonNullable<RenderStatus['lastError']>;
}

/** Renders a template from the registry into a file, on every change, until stopped. */
export class Renderer {
  private template: RenderTemplate;
  private readonly log: Logger;
  private readonly prefixes: string[];
  private readonly debounceMs: number;
  private lastText: string | undefined;
  // The outcome of installing lastText (undefined when it went in, or was already there).
  private lastTextError: RenderStatus['lastError'];
  private readonly state: RenderStatus;
  private dirty = false;
  private wake: (() => void) | undefined;
  private healthWrite: Promise<void> = Promise.resolve();
  private pendingReload: PendingReload | undefined;
  // Only the long-running loop retries: --once reports a failed reload through its exit code.
  private retrying = false;

  constructor(
    private readonly store: FollowStore & { requestTimeoutMs?: number },
    private readonly keys: Keys,
    private readonly opts: RendererOptions,
    log: Logger,
  ) {
    this.template = opts.template;
    this.log = log.child({ component: 'render', target: opts.target.path });
    // Nodes and services only: events and watcher records churn and no template needs them. With a service
    // filter, one prefix per service: a change to any other service is never even delivered.
    this.prefixes = [keys.nodes, ...(opts.services ? [...new Set(opts.services)].map((s) => keys.service(s)) : [keys.services])];
    this.debounceMs = opts.debounceMs ?? 500;
    this.state = { healthy: false, etcd: 'unknown', target: opts.target.path, renders: 0, writes: 0, checkFailures: 0, updatedAt: new Date().toISOString() };
  }

  /** A copy of the current status. */
  status(): RenderStatus {
    return structuredClone(this.state);
  }

  /** Swap the template (SIGHUP re-reads the file) and render again with it. */
  setTemplate(template: RenderTemplate): void {
    this.template = template;
    this.lastText = undefined;
    this.poke();
  }

  /** List once, render, install; throws EtcdUnavailableError when etcd does not answer. */
  async once(signal: AbortSignal): Promise<StepResult> {
    const timeoutMs = this.timeoutMs();
    const listings = await Promise.all(this.prefixes.map((p) => deadline(this.store.list(p), timeoutMs, 'list')));
    this.setEtcd('up');
    const result = await this.step(listings.flatMap((l) => l.kvs), signal);
    await this.healthWrite;
    return result;
  }

  /** Follow the registry and keep the target rendered until `signal` aborts; resolves once all is released. */
  async run(signal: AbortSignal): Promise<void> {
    const views: (ReadonlyMap<string, KeyValue> | undefined)[] = this.prefixes.map(() => undefined);
    const down = new Set<number>();
    const followers = this.prefixes.map((prefix, i) =>
      follow(
        this.store,
        prefix,
        {
          requestTimeoutMs: this.timeoutMs(),
          ...(this.opts.probeIntervalMs !== undefined ? { probeIntervalMs: this.opts.probeIntervalMs } : {}),
          // The follower hands over a map it replaces (never empties) on a new listing: keeping the reference
          // always gives a whole set.
          onState: (kvs) => {
            views[i] = kvs;
            this.poke();
          },
          onOutage: (err) => {
            if (err) down.add(i);
            else down.delete(i);
            if (err) this.log.warn({ err: { message: err.message }, prefix }, 'etcd not answering; keeping the last render');
            else this.log.info({ prefix }, 'etcd answering again');
            this.setEtcd(down.size > 0 ? 'down' : 'up');
          },
        },
        signal,
      ),
    );
    this.retrying = true;
    const loop = (async () => {
      while (!signal.aborted) {
        await this.changed(signal, this.pendingReload && Math.max(0, this.pendingReload.dueAt - Date.now()));
        if (signal.aborted) break;
        // Woken by the retry timer, not by a change: retry the reload here, between renders. A change that
        // comes first is rendered first; if that writes a new file, its own reload replaces the retry.
        if (!this.dirty) {
          if (this.pendingReload) await this.retryReload(this.pendingReload, signal);
          continue;
        }
        // Debounce: the first change opens a window; everything within it is rendered together.
        await sleep(this.debounceMs, signal);
        if (signal.aborted) break;
        this.dirty = false;
        // Render only from whole listings of every prefix, never from a partial start.
        if (views.some((v) => v === undefined)) continue;
        if (down.size === 0) this.setEtcd('up');
        await this.step(views.flatMap((v) => [...v!.values()]), signal);
      }
    })();
    await Promise.all([...followers, loop]);
    await this.healthWrite;
  }

  private timeoutMs(): number {
    return this.opts.requestTimeoutMs ?? this.store.requestTimeoutMs ?? 2_000;
  }

  private poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  // Wait for a change (or abort), or at most `waitMs` when given.
  private changed(signal: AbortSignal, waitMs?: number): Promise<void> {
    if (this.dirty || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = waitMs === undefined ? undefined : setTimeout(() => done(), waitMs);
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  // Render and install one state; every outcome is logged and reflected in the status, none is thrown.
  private async step(kvs: KeyValue[], signal: AbortSignal): Promise<StepResult> {
    let text: string;
    try {
      text = this.template(buildContext(this.keys, kvs, this.opts.services));
    } catch (err) {
      const error = (err as Error).message;
      this.log.error({ err: { message: error } }, 'template render failed; keeping the old file');
      this.fail('render', error);
      return { result: 'failed', stage: 'render', error };
    }
    this.state.renders++;
    if (text === this.lastText) {
      this.log.debug('rendered text unchanged');
      // Back to the text last handled (say after a failed render): its outcome is the current one again.
      if (this.state.lastError !== this.lastTextError) {
        if (this.lastTextError) this.state.lastError = this.lastTextError;
        else delete this.state.lastError;
        this.touch();
      }
      return { result: 'same-text' };
    }
    let res: ApplyResult;
    try {
      res = await this.opts.target.apply(text, signal);
    } catch (err) {
      const error = (err as Error).message;
      this.log.error({ err }, 'writing the target failed; keeping the old file');
      this.fail('write', error);
      return { result: 'failed', stage: 'write', error };
    }
    // A check interrupted by shutdown says nothing about the render.
    if (signal.aborted && res.result === 'check-failed') return res;
    this.lastText = text;
    if (res.result === 'unchanged') {
      this.log.debug('target already up to date');
      // Someone else put this text in place; whether the program loaded it is as unknown as before.
      if (this.pendingReload) this.restore(this.pendingReload.error);
      else this.ok();
    } else if (res.result === 'check-failed') {
      this.state.checkFailures++;
      this.log.error({ error: res.check.error, output: res.check.output }, 'check command refused the render; keeping the old file');
      this.fail('check', res.check.error ?? 'failed', res.check.output);
    } else {
      this.state.writes++;
      this.state.lastWrite = new Date().toISOString();
      this.log.info({ bytes: Buffer.byteLength(text), checkMs: res.check?.durationMs }, 'target replaced');
      if (this.pendingReload) {
        // This render's reload (below) covers the older file too.
        this.log.info({ attempts: this.pendingReload.attempts }, 'reload retry superseded by a newer render');
        this.pendingReload = undefined;
      }
      if (res.reload && !res.reload.ok && signal.aborted) {
        this.log.warn({ error: res.reload.error }, 'reload interrupted by shutdown; the new file is in place');
      } else if (res.reload && !res.reload.ok) {
        this.fail('reload', res.reload.error ?? 'failed', res.reload.output);
        const retryInMs = this.retrying ? this.scheduleRetry(this.state.lastError!) : undefined;
        this.log.error({ error: res.reload.error, output: res.reload.output, retryInMs }, 'reload command failed; the new file is in place');
      } else {
        if (res.reload) this.log.info({ reloadMs: res.reload.durationMs }, 'reloaded');
        this.ok();
      }
    }
    this.lastTextError = this.state.lastError;
    return res;
  }

  // Start (or restart, for a newer file) the retries of a failed reload; returns the delay of the first.
  private scheduleRetry(error: NonNullable<RenderStatus['lastError']>): number {
    const backoff = new Backoff(this.opts.reloadRetry?.baseMs ?? 1_000, this.opts.reloadRetry?.capMs ?? 30_000);
    const delayMs = backoff.next();
    this.pendingReload = { backoff, attempts: 0, dueAt: Date.now() + delayMs, error };
    return delayMs;
  }

  // One retry of a pending reload. The status keeps the reload failure until one succeeds; a render or check
  // failure that came later stays in front (it is about the registry's current state, which is newer).
  private async retryReload(pending: PendingReload, signal: AbortSignal): Promise<void> {
    pending.attempts++;
    const res = await this.opts.target.reload(signal);
    if (signal.aborted) return;
    if (!res || res.ok) {
      this.pendingReload = undefined;
      this.log.info({ attempts: pending.attempts, reloadMs: res?.durationMs }, 'reloaded after retry');
      if (this.lastTextError === pending.error) this.lastTextError = undefined;
      if (this.state.lastError === pending.error) this.ok();
      return;
    }
    const delayMs = pending.backoff.next();
    pending.dueAt = Date.now() + delayMs;
    const error = { at: new Date().toISOString(), stage: 'reload' as const, message: res.error ?? 'failed', ...(res.output ? { output: res.output } : {}) };
    if (this.lastTextError === pending.error) this.lastTextError = error;
    if (this.state.lastError === undefined || this.state.lastError === pending.error) this.restore(error);
    pending.error = error;
    this.log.error({ attempts: pending.attempts, error: res.error, output: res.output, retryInMs: delayMs }, 'reload retry failed; the new file is in place');
  }

  private setEtcd(etcd: RenderStatus['etcd']): void {
    if (this.state.etcd === etcd) return;
    this.state.etcd = etcd;
    this.touch();
  }

  private ok(): void {
    delete this.state.lastError;
    this.touch();
  }

  private restore(error: RenderStatus['lastError']): void {
    if (error) this.state.lastError = error;
    else delete this.state.lastError;
    this.touch();
  }

  private fail(stage: RenderStage, message: string, output?: string): void {
    this.state.lastError = { at: new Date().toISOString(), stage, message, ...(output ? { output } : {}) };
    this.touch();
  }

  // Recompute health and write the health file (in order, never two at once).
  private touch(): void {
    this.state.healthy = this.state.etcd === 'up' && this.state.lastError === undefined;
    this.state.updatedAt = new Date().toISOString();
    const file = this.opts.healthFile;
    if (!file) return;
    const text = `${JSON.stringify(this.state, null, 2)}\n`;
    this.healthWrite = this.healthWrite.then(() =>
      writeAtomic(file, text).catch((err: unknown) => this.log.warn({ err, file }, 'writing the health file failed')),
    );
  }
}
