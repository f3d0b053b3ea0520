// Shared plumbing for the watcher's process tests: real agents, real watchers, a recording hook.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, type EtcdCluster } from '../helpers/etcd.js';
import { BeaconProcess, REPO_ROOT, processGone, writeConfig } from '../helpers/process.js';

/** The recording hook (see the script's header for its modes). */
export const HOOK_SCRIPT = join(REPO_ROOT, 'test/fixtures/watcher/record-hook.mjs');

type Teardown = { teardown(fn: () => unknown): void };

/** A log line from a beacon process. */
export type Line = Record<string, unknown>;

/** Start an agent for `node` and wait until it registered. */
export async function startAgent(t: Teardown, endpoints: string, prefix: string, node: string, ttl = '3s'): Promise<BeaconProcess> {
  const cfg = ['etcd:', `  endpoints: [${endpoints}]`, `prefix: ${prefix}`, 'node:', `  name: ${node}`, `  ttl: ${ttl}`, ''].join('\n');
  const p = new BeaconProcess(['agent', '--config', writeConfig(cfg)]);
  t.teardown(() => p.stop('SIGKILL'));
  // Generous: the claim is that it registers, not how fast; a loaded 2-core CI machine has taken over 20 s.
  await p.waitLine((l) => l.msg === 'registered', 45_000);
  return p;
}

/**
 * Start several agents, at most four starting at a time: each agent's own deadline then measures its
 * start, not a queue of two dozen Node processes booting at once on a small CI machine.
 */
export async function startAgents(t: Teardown, endpoints: string, prefix: string, nodes: string[], ttl = '3s'): Promise<BeaconProcess[]> {
  const started: BeaconProcess[] = new Array(nodes.length);
  let next = 0;
  const lane = async () => {
    while (next < nodes.length) {
      const i = next++;
      started[i] = await startAgent(t, endpoints, prefix, nodes[i]!, ttl);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, nodes.length) }, lane));
  return started;
}

/** A hook that records its invocations into `file` (one JSON line each). */
export function recordingHook(file: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Record<string, unknown> {
  return {
    name: 'remedy',
    kind: 'exec',
    command: [process.execPath, HOOK_SCRIPT],
    env: { HOOK_OUT: file, ...env },
    events: ['NodeFailed'],
    ...extra,
  };
}

/** A fresh file path for a hook's records. */
export function hookFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'beacon-hook-')), 'calls.jsonl');
}

/** The hook's recorded invocations. */
export function hookCalls(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

/** Options of a test watcher's config (JSON is YAML: written as JSON). */
export interface WatcherSpec {
  endpoints: string;
  prefix: string;
  id: string;
  hooks?: Record<string, unknown>[];
  watcher?: Record<string, unknown>;
}

/** The config file of a test watcher. */
export function watcherConfigFile(spec: WatcherSpec): string {
  const cfg = {
    etcd: { endpoints: spec.endpoints.split(',') },
    prefix: spec.prefix,
    watcher: { id: spec.id, electionTtl: '2s', probeInterval: '1s', massFailure: { hold: '1s' }, ...spec.watcher },
    hooks: spec.hooks ?? [],
  };
  return writeConfig(JSON.stringify(cfg, null, 2), 'watcher.json');
}

/** Start a watcher process (stopped gracefully, then killed, at the end of the test). */
export function startWatcher(t: Teardown, spec: WatcherSpec): BeaconProcess {
  const p = new BeaconProcess(['watcher', '--config', watcherConfigFile(spec)]);
  t.teardown(() => stopGracefully(p));
  return p;
}

/** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
export async function stopGracefully(p: BeaconProcess): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
  await p.exited;
  clearTimeout(timer);
}

/** The `node event` lines a watcher printed, optionally of one type and node. */
export function nodeEvents(p: BeaconProcess, event?: string, node?: string): Line[] {
  return p.lines.filter((l) => l.msg === 'node event' && (!event || l.event === event) && (!node || l.node === node));
}

/** `hook outcome` lines. */
export function outcomes(p: BeaconProcess, hook?: string): Line[] {
  return p.lines.filter((l) => l.msg === 'hook outcome' && (!hook || l.hook === hook));
}

/** Wait until the watcher leads and has compared every node (`in sync` after its takeover). */
export async function waitLeading(p: BeaconProcess, timeoutMs = 30_000): Promise<Line> {
  const lead = p.lines.length;
  await p.waitLine((l) => l.msg === 'leading: reconciling', timeoutMs);
  return p.waitLine((l) => l.msg === 'in sync', timeoutMs, lead);
}

/** Wait for a node event line. */
export function waitEvent(p: BeaconProcess, event: string, node: string, timeoutMs = 15_000): Promise<Line> {
  return waitFor(() => nodeEvents(p, event, node)[0], { timeoutMs, what: `${event} for ${node} (stderr: ${p.stderr.slice(-300)})` });
}

/** A JSON value stored under `key`, read with etcdctl; undefined when the key is absent. */
export function getJson(etcd: EtcdCluster, key: string): Record<string, unknown> | undefined {
  const out = etcd.etcdctl(['get', key, '--print-value-only']).trim();
  return out ? (JSON.parse(out) as Record<string, unknown>) : undefined;
}

/** Whether a process with this pid is still running (a zombie is not). */
export function alive(pid: number, command?: RegExp): boolean {
  return !processGone(pid, command);
}
