// `beacon render`'s core: follow the registry's node and service keys, render the template on every change
// (debounced, one render at a time) and hand changed text to the Target. etcd going away changes nothing on
// disk: the last good render stays in place and the status says etcd is down until a fresh listing.
import type { Logger } from 'pino';
import { follow, type FollowStore } from '../client/follow.js';
import type { Keys } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import { sleep } from '../util/time.js';
import { deadline } from '../watcher/deadline.js';
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
  /** The last failure, cleared by the next render that is installed (or found already in place). */
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

  constructor(
    private readonly store: FollowStore & { requestTimeoutMs?: number },
    private readonly keys: Keys,
    private readonly opts: RendererOptions,
    log: Logger,
  ) {
    this.template = opts.template;
    this.log = log.child({ component: 'render', target: opts.target.path });
    // Nodes and services only: events and watcher records churn and no template needs them.
    this.prefixes = [keys.nodes, keys.services];
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
    const loop = (async () => {
      while (!signal.aborted) {
        await this.changed(signal);
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

  private changed(signal: AbortSignal): Promise<void> {
    if (this.dirty || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
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
      text = this.template(buildContext(this.keys, kvs));
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
      this.ok();
    } else if (res.result === 'check-failed') {
      this.state.checkFailures++;
      this.log.error({ error: res.check.error, output: res.check.output }, 'check command refused the render; keeping the old file');
      this.fail('check', res.check.error ?? 'failed', res.check.output);
    } else {
      this.state.writes++;
      this.state.lastWrite = new Date().toISOString();
      this.log.info({ bytes: Buffer.byteLength(text), checkMs: res.check?.durationMs }, 'target replaced');
      if (res.reload && !res.reload.ok && signal.aborted) {
        this.log.warn({ error: res.reload.error }, 'reload interrupted by shutdown; the new file is in place');
      } else if (res.reload && !res.reload.ok) {
        this.log.error({ error: res.reload.error, output: res.reload.output }, 'reload command failed; the new file is in place');
        this.fail('reload', res.reload.error ?? 'failed', res.reload.output);
      } else {
        if (res.reload) this.log.info({ reloadMs: res.reload.durationMs }, 'reloaded');
        this.ok();
      }
    }
    this.lastTextError = this.state.lastError;
    return res;
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
