// A Renderer against the test file's real etcd, writing into a temp dir, with its log lines kept in memory so
// tests can assert what it did (retries, supersedes) rather than how long it took.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Keys } from '../../src/etcd/keys.js';
import { Store } from '../../src/etcd/store.js';
import { Renderer, type RendererOptions, type RenderStatus } from '../../src/render/renderer.js';
import { Target, type TargetOptions } from '../../src/render/target.js';
import { compileTemplate } from '../../src/render/template.js';
import { waitFor, type EtcdCluster } from '../helpers/etcd.js';

/** An endpoint record as the agent writes it, for `etcdctl put`. */
export function endpoint(service: string, node: string, port: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ schema: 1, id: `${node}/${service}`, service, node, address: '127.0.0.1', port, protocol: 'tcp', tags: [], meta: {}, health: 'passing', output: '', since: '2024-05-01T10:00:00.000Z', lease: '00000000000000aa', ...extra });
}

/** What a test sets up besides the template. */
export interface SetupOptions {
  target?: Omit<TargetOptions, 'path'>;
  renderer?: Omit<RendererOptions, 'template' | 'target'>;
}

/** A running renderer and ways to look at it. */
export interface RenderSetup {
  dir: string;
  keys: Keys;
  out: string;
  renderer: Renderer;
  /** Stop it; resolves once run() has. */
  stop(): Promise<void>;
  /** The target's text, undefined while it does not exist. */
  read(): string | undefined;
  /** The health file, parsed. */
  health(): RenderStatus | undefined;
  /** Log lines written so far. */
  lines: Record<string, unknown>[];
  /** Log lines with message `msg`. */
  withMsg(msg: string): Record<string, unknown>[];
  /** Wait for the target to read `text`. */
  until(text: string, what: string, timeoutMs?: number): Promise<unknown>;
}

/** Start a renderer under `prefix` (its own, so tests can share one etcd); torn down with the test. */
export function setup(t: { teardown(fn: () => void | Promise<void>): void }, etcd: EtcdCluster, prefix: string, templateText: string, opts: SetupOptions = {}): RenderSetup {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-render-'));
  const keys = new Keys(prefix);
  const store = Store.connect({ endpoints: etcd.endpoints.split(','), requestTimeoutMs: 1_000, dialTimeoutMs: 1_000 });
  const out = join(dir, 'out.txt');
  const healthFile = join(dir, 'health.json');
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      if (process.env.RT_DEBUG) process.stderr.write(chunk);
      cb();
    },
  });
  const renderer = new Renderer(
    store,
    keys,
    { template: compileTemplate(templateText, 'test.hbs'), target: new Target({ path: out, ...opts.target }), debounceMs: 100, probeIntervalMs: 300, healthFile, ...opts.renderer },
    pino({ level: 'debug' }, sink),
  );
  const ac = new AbortController();
  const running = renderer.run(ac.signal);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    ac.abort();
    stopped ??= running;
    return stopped;
  };
  t.teardown(async () => {
    await stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const read = () => {
    try {
      return readFileSync(out, 'utf8');
    } catch {
      return undefined;
    }
  };
  const health = (): RenderStatus | undefined => {
    try {
      return JSON.parse(readFileSync(healthFile, 'utf8')) as RenderStatus;
    } catch {
      return undefined;
    }
  };
  const until = (text: string, what: string, timeoutMs = 10_000) =>
    waitFor(() => read() === text, { timeoutMs, what }).catch((err: Error) => {
      throw new Error(`${err.message}: expected ${JSON.stringify(text)}, file holds ${JSON.stringify(read())}`);
    });
  return { dir, keys, out, renderer, stop, read, health, lines, withMsg: (msg) => lines.filter((l) => l.msg === msg), until };
}
