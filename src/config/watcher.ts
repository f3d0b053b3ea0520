// The watcher's config: the `watcher` and `hooks` sections, read with the same field readers as the agent's,
// and `loadWatcherConfig` for `beacon watcher` (etcd, prefix and log as for the agent; the agent's own
// sections may share the file and are left to the agent, which validates the watcher's sections in turn).
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { nameProblem } from '../etcd/keys.js';
import type { EtcdConfig } from '../etcd/options.js';
import { EVENT_TYPES, type EventType } from '../types.js';
import { formatDuration } from '../util/duration.js';
import { parseHttp, type HttpConfig } from './listen.js';
import { parseEtcd, parsePrefix } from './etcd.js';
import { Fields, deepFreeze, readEnum, readList, readSections, readString, text, type Check, type Reader } from '../util/fields.js';
import { agentSections, parseLog } from './agent.js';
import { readConfigFile } from './read.js';
import { parseSections, type ParseContext, type ParseOptions, type SectionParser, type SectionParsers } from './sections.js';
import type { AgentConfig } from './types.js';

/** Mass-failure guard: when `share` of known nodes fail within `windowMs`, remedy hooks are suspended. */
export interface MassFailureConfig {
  /** Fraction of known nodes, (0, 1]; default 0.55 (Kubernetes' unhealthy-zone threshold). */
  share: number;
  windowMs: number;
  /** Below this many known nodes the guard stays off (one of two nodes failing is no partition). */
  minNodes: number;
  /** Remedy hooks for NodeFailed wait this long, so failures arriving together are judged together. */
  holdMs: number;
}

/** Global token bucket over remedy hook runs: one token every `everyMs`, at most `burst` saved. */
export interface RateLimitConfig {
  everyMs: number;
  burst: number;
}

/** The `watcher` section. */
export interface WatcherSettings {
  /** This watcher's name in the election (default `<hostname>-<pid>`). */
  id: string;
  /** TTL of the leader's election lease, whole seconds: a standby takes over within about this long. */
  electionTtl: number;
  /** How long events (and finished reactions) are kept. */
  eventRetentionMs: number;
  /** Interval of the etcd liveness probe (a hung etcd is otherwise silent). */
  probeIntervalMs: number;
  /** After a remedy hook started for a node and event type, it does not start again for them within this. */
  cooldownMs: number;
  rateLimit: RateLimitConfig;
  massFailure: MassFailureConfig;
  /** The leader's check that etcd revokes expired node leases (docs/watcher.md, "Lease audit"). */
  leaseAudit: LeaseAuditConfig;
}

/** The `watcher.leaseAudit` section. */
export interface LeaseAuditConfig {
  enabled: boolean;
  /** At most this many `lease timetolive` requests per second. */
  maxRate: number;
}

/** What every hook kind shares. */
export interface HookCommon {
  name: string;
  /** Event types that trigger the hook. */
  events: EventType[];
  timeoutMs: number;
  /** Attempts after the first one fails. */
  retries: number;
  /** Delay before the first retry; doubled for each further one (capped at one minute). */
  backoffMs: number;
  /** At most this many runs of this hook at once. */
  concurrency: number;
  /** A notification, not a remedy: exempt from the mass-failure guard, the cooldown and the rate limit. */
  alertOnly: boolean;
}

/** A program run with the event as JSON on stdin and BEACON_* variables in its environment. */
export interface ExecHookConfig extends HookCommon {
  kind: 'exec';
  /** argv; no shell. */
  command: string[];
  env: Record<string, string>;
}

/** An HTTP POST of the event as JSON. */
export interface WebhookHookConfig extends HookCommon {
  kind: 'webhook';
  url: string;
  headers: Record<string, string>;
}

/** One configured hook. */
export type HookConfig = ExecHookConfig | WebhookHookConfig;

/** The kinds of hook. */
export type HookKind = HookConfig['kind'];

/** The sections the watcher adds to a config file. */
export interface WatcherSections {
  watcher: WatcherSettings;
  hooks: HookConfig[];
  /** Where `/healthz`, `/metrics` and `/http_sd` are served (`--listen` wins); null serves nothing. */
  http: HttpConfig | null;
}

/** Everything `beacon watcher` runs with. */
export interface WatcherFileConfig extends WatcherSections {
  etcd: EtcdConfig;
  prefix: string;
  log: AgentConfig['log'];
}

const MIN_TTL_MS = 2_000;
const MAX_BACKOFF_MS = 60_000;

/** A number (not necessarily whole) in (min, max]. */
const readFraction: Reader<number, { min: number; max: number }> = (p, field, value, { min, max }) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min || value > max) {
    return p.add(field, value, `must be a number greater than ${min} and at most ${max}`);
  }
  return value;
};

const readBoolean: Reader<boolean> = (p, field, value) =>
  typeof value === 'boolean' ? value : p.add(field, value, 'must be true or false');

/** A non-empty list of event types, no duplicates. */
const readEvents: Reader<EventType[]> = (p, field, value) => {
  const items = readList(p, field, value, undefined);
  if (!items) return undefined;
  if (items.length === 0) return p.add(field, value, 'must name at least one event type');
  const out = items.map((item, i) => readEnum(p, `${field}[${i}]`, item, EVENT_TYPES));
  if (out.some((e) => e === undefined)) return undefined;
  return [...new Set(out as EventType[])];
};

const ENV_NAME: Check<string> = (s) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? undefined : 'must be a variable name (letters, digits, "_", not starting with a digit)';
const HEADER_NAME: Check<string> = (s) =>
  /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s) ? undefined : 'must be an HTTP header name';
const URL_CHECK: Check<string> = (s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'must be an http:// or https:// URL';
  } catch {
    return 'must be an http:// or https:// URL';
  }
};

/** The default watcher id: `<hostname>-<pid>`, squeezed into one key segment. */
export function defaultWatcherId(host: string | undefined, pid: number): string {
  const h = (host ?? 'watcher').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'watcher';
  return `${h.slice(0, 200)}-${pid}`;
}

/** The `watcher` section. */
export function parseWatcher(raw: unknown, ctx: ParseContext): WatcherSettings {
  const f = new Fields('watcher', raw, ctx.problems);
  const id = f.string('id', nameProblem) ?? defaultWatcherId(ctx.hostname, process.pid);
  const electionTtlMs =
    f.duration('electionTtl', { min: MIN_TTL_MS, max: 3_600_000, wholeSeconds: true, why: "etcd's minimum lease TTL is 2 s" }) ??
    10_000;
  const eventRetentionMs = f.duration('eventRetention', { min: 10_000, max: 90 * 86_400_000 }) ?? 3_600_000;
  const probeIntervalMs = f.duration('probeInterval', { min: 200, max: 60_000 }) ?? 2_000;
  const cooldownMs = f.duration('cooldown', { max: 30 * 86_400_000 }) ?? 600_000;

  const rl = f.section('rateLimit');
  const rateLimit: RateLimitConfig = {
    everyMs: rl.duration('every', { min: 1, max: 86_400_000 }) ?? 10_000,
    burst: rl.integer('burst', { min: 1, max: 10_000 }) ?? 3,
  };
  rl.done();

  const mf = f.section('massFailure');
  const massFailure: MassFailureConfig = {
    share: mf.read('share', readFraction, { min: 0, max: 1 }) ?? 0.55,
    windowMs: mf.duration('window', { min: 1_000, max: 86_400_000 }) ?? 60_000,
    minNodes: mf.integer('minNodes', { min: 1, max: 1_000_000 }) ?? 3,
    holdMs: mf.duration('hold', { max: 3_600_000 }) ?? 4_000,
  };
  if (!mf.bad('hold') && !mf.bad('window') && massFailure.holdMs >= massFailure.windowMs) {
    mf.fail(
      'hold',
      `must be shorter than watcher.massFailure.window: window=${formatDuration(massFailure.windowMs)} hold=${formatDuration(massFailure.holdMs)}`,
    );
  }
  mf.done();

  // `leaseAudit: false` is short for `leaseAudit: { enabled: false }`.
  const rawAudit = f.get('leaseAudit');
  let leaseAudit: LeaseAuditConfig = { enabled: rawAudit !== false, maxRate: 1_000 };
  if (typeof rawAudit !== 'boolean') {
    const la = f.section('leaseAudit');
    leaseAudit = {
      enabled: la.read('enabled', readBoolean, undefined) ?? true,
      maxRate: la.integer('maxRate', { min: 10, max: 100_000 }) ?? 1_000,
    };
    la.done();
  }
  f.done();
  return { id, electionTtl: electionTtlMs / 1000, eventRetentionMs, probeIntervalMs, cooldownMs, rateLimit, massFailure, leaseAudit };
}

/** Reads the fields one hook kind adds. */
type KindParser<K extends HookKind> = (f: Fields) => Omit<Extract<HookConfig, { kind: K }>, keyof HookCommon | 'kind'> | undefined;

const execFields: KindParser<'exec'> = (f) => {
  const command = f.required('command', readCommand, undefined);
  const env = f.stringMap('env', { key: ENV_NAME, value: (s) => (s.includes('\0') ? 'must not contain NUL' : undefined) }) ?? {};
  return command && { command, env };
};

const webhookFields: KindParser<'webhook'> = (f) => {
  const url = f.required('url', readString, URL_CHECK);
  const headers = f.stringMap('headers', { key: HEADER_NAME, value: text(8192) }) ?? {};
  return url === undefined ? undefined : { url, headers };
};

/** The fields each hook kind adds, by kind. */
const hookKinds: { [K in HookKind]: KindParser<K> } = { exec: execFields, webhook: webhookFields };
const HOOK_KINDS = Object.keys(hookKinds) as HookKind[];

/** An argv: a non-empty list of strings, the program first. */
const readCommand: Reader<string[]> = (p, field, value) => {
  const items = readList(p, field, value, undefined);
  if (!items) return undefined;
  if (items.length === 0) return p.add(field, value, 'must name the program to run');
  const out = items.map((item, i) =>
    readString(p, `${field}[${i}]`, item, i === 0 ? text(4096) : (s) => (s.includes('\0') ? 'must not contain NUL' : undefined)),
  );
  return out.every((s) => s !== undefined) ? (out as string[]) : undefined;
};

/** The `hooks` list; names are unique (each names reaction keys). */
export function parseHooks(raw: unknown, ctx: ParseContext): HookConfig[] {
  const list = raw === undefined ? [] : (readSections(ctx.problems, 'hooks', raw, undefined) ?? []);
  const out: HookConfig[] = [];
  const firstIndex = new Map<string, number>();
  list.forEach((f, i) => {
    const name = f.required('name', readString, nameProblem);
    const kind = f.required('kind', (p, field, v) => readEnum(p, field, v, HOOK_KINDS), undefined);
    const common = {
      events: f.read('events', readEvents, undefined) ?? (['NodeFailed'] as EventType[]),
      timeoutMs: f.duration('timeout', { min: 1, max: 3_600_000 }) ?? 30_000,
      retries: f.integer('retries', { min: 0, max: 100 }) ?? 2,
      backoffMs: f.duration('backoff', { max: MAX_BACKOFF_MS }) ?? 1_000,
      concurrency: f.integer('concurrency', { min: 1, max: 256 }) ?? 2,
      alertOnly: f.read('alertOnly', readBoolean, undefined) ?? false,
    };
    const specific = kind === undefined ? undefined : (hookKinds[kind] as KindParser<HookKind>)(f);
    f.done();
    if (name !== undefined) {
      const first = firstIndex.get(name);
      if (first !== undefined) f.fail('name', `duplicate hook name: hooks[${first}] and hooks[${i}] are both "${name}"`);
      else firstIndex.set(name, i);
    }
    if (name === undefined || kind === undefined || specific === undefined) return;
    out.push({ name, kind, ...common, ...specific } as HookConfig);
  });
  return out;
}

/** The watcher's sections, for any loader that reads a file which may carry them. */
export const watcherSections: SectionParsers<WatcherSections> = { watcher: parseWatcher, hooks: parseHooks, http: parseHttp };

const skip: SectionParser<undefined> = () => undefined;

/**
 * Validate a raw document for the watcher: etcd, prefix and log as for the agent, plus watcher and hooks.
 * The agent's own sections (node, services, ...) may be present and are left to the agent. Pure.
 */
export function parseWatcherConfig(raw: unknown, opts: ParseOptions = {}): WatcherFileConfig {
  const agentOnly = Object.fromEntries(Object.keys(agentSections).map((k) => [k, skip]));
  const parsers = { ...agentOnly, etcd: parseEtcd, prefix: parsePrefix, log: parseLog, ...watcherSections };
  const all = parseSections(raw, parsers as unknown as SectionParsers<WatcherFileConfig>, opts);
  const { etcd, prefix, log, watcher, hooks, http } = all;
  return deepFreeze({ etcd, prefix, log, watcher, hooks, http });
}

/** Read and validate the watcher's config file (or defaults, environment and flags when `path` is undefined). */
export async function loadWatcherConfig(path: string | undefined, opts: ParseOptions = {}): Promise<WatcherFileConfig> {
  const raw = path === undefined ? {} : await readConfigFile(path);
  return parseWatcherConfig(raw, {
    env: process.env,
    hostname: hostname(),
    ...(path === undefined ? {} : { baseDir: dirname(resolve(path)) }),
    ...opts,
  });
}
