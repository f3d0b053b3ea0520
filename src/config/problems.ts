// The `problems` section: node problem detection in node-problem-detector's terms. A kernel-log
// monitor (rules as data, config/kernel-monitor.json by default), resource pressure thresholds,
// how long events are kept, and an optional local state file. Absent section: no detection.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { loadRules, parseRules, type RuleSet, type SourceKind } from '../problems/rules.js';
import { DEFAULT_THRESHOLDS, type PressureThresholds } from '../problems/pressure.js';
import { Fields, absolutePath, isMapping, type Reader } from '../util/fields.js';
import type { ParseContext } from './sections.js';

/** The kernel-log monitor's settings. */
export interface KernelLogConfig {
  /** Rule file; undefined: /etc/beacon/kernel-monitor.json when present, else the shipped config/kernel-monitor.json. */
  rules?: string;
  /** Overrides the rule file's `plugin`. */
  source?: SourceKind;
  /** Overrides the rule file's `logPath` (kmsg device or plain file). */
  path?: string;
  /** Plain files: strip syslog and `[seconds]` prefixes (`auto`) or not (`raw`). */
  format: 'auto' | 'raw';
}

/** Resource pressure sampling (MemoryPressure, DiskPressure, PIDPressure). */
export interface PressureConfig {
  intervalMs: number;
  transitionPeriodMs: number;
  thresholds: PressureThresholds;
}

/** The whole `problems` section. */
export interface ProblemsConfig {
  /** null when `kernel.enabled: false`. */
  kernel: KernelLogConfig | null;
  /** null when `pressure.enabled: false`. */
  pressure: PressureConfig | null;
  /** How long an event stays in etcd at least (its lease TTL is 1.25 × this), ms, whole seconds. */
  eventRetentionMs: number;
  /** Local file keeping the log monitor's conditions and watermark across restarts (none by default). */
  stateFile?: string;
}

/** Where operators put their own rule file; used when present and `problems.kernel.rules` is unset. */
export const SYSTEM_RULES_PATH = '/etc/beacon/kernel-monitor.json';
/** The shipped rule file, relative to the repository root (and the single executable's asset key). */
export const SHIPPED_RULES = 'config/kernel-monitor.json';
/** Events are kept this long by default. */
export const DEFAULT_EVENT_RETENTION_MS = 3_600_000;
const DEFAULT_PRESSURE_INTERVAL_MS = 10_000;
const DEFAULT_TRANSITION_PERIOD_MS = 300_000;
const SOURCES: readonly SourceKind[] = ['kmsg', 'journal', 'file'];

const readBool: Reader<boolean> = (p, field, v) => (typeof v === 'boolean' ? v : p.add(field, v, 'must be true or false'));

const readPercent: Reader<number> = (p, field, v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : p.add(field, v, 'must be a percentage from 0 to 100');

const readMountPercents: Reader<Record<string, number>> = (p, field, v) => {
  if (!isMapping(v)) return p.add(field, v, 'must be a mapping of mount point to percentage, such as { /var: 80 }');
  const out: Record<string, number> = {};
  let ok = true;
  for (const [mount, pct] of Object.entries(v)) {
    const at = `${field}[${JSON.stringify(mount)}]`;
    if (!mount.startsWith('/')) {
      p.add(at, mount, 'must be an absolute mount point');
      ok = false;
      continue;
    }
    const n = readPercent(p, at, pct, undefined);
    if (n === undefined) ok = false;
    else out[mount] = n;
  }
  return ok ? out : undefined;
};

/** The `problems` section; null when absent (or `enabled: false`). */
export function parseProblems(raw: unknown, ctx: ParseContext): ProblemsConfig | null {
  if (raw === undefined) return null;
  const f = new Fields('problems', raw, ctx.problems);
  const enabled = f.read('enabled', readBool, undefined) ?? true;
  const path = (s: string | undefined) => (s === undefined || ctx.baseDir === undefined ? s : resolve(ctx.baseDir, s));

  const k = f.section('kernel');
  const kernelOn = k.read('enabled', readBool, undefined) ?? true;
  const rules = path(k.string('rules', (s) => (s.trim() === '' ? 'must be a file path' : undefined)));
  const source = k.oneOf('source', SOURCES);
  const logPath = k.string('path', absolutePath);
  const format = k.oneOf('format', ['auto', 'raw'] as const) ?? 'auto';
  k.done();
  if (source === 'journal' && logPath !== undefined) k.fail('path', 'does not apply to the journal source (it reads journalctl -k)');
  // The shipped rules name /dev/kmsg: a file source needs its own file.
  if (source === 'file' && logPath === undefined && !k.bad('source')) k.fail('path', 'is required when source is file', undefined);

  const pr = f.section('pressure');
  const pressureOn = pr.read('enabled', readBool, undefined) ?? true;
  const intervalMs = pr.duration('interval', { min: 1_000, max: 3_600_000 }) ?? DEFAULT_PRESSURE_INTERVAL_MS;
  const transitionPeriodMs = pr.duration('transitionPeriod', { max: 86_400_000 }) ?? DEFAULT_TRANSITION_PERIOD_MS;
  const thresholds: PressureThresholds = {
    memoryAvailablePercent: pr.read('memoryAvailablePercent', readPercent, undefined) ?? DEFAULT_THRESHOLDS.memoryAvailablePercent,
    diskUsedPercent: pr.read('diskUsedPercent', readPercent, undefined) ?? DEFAULT_THRESHOLDS.diskUsedPercent,
    diskMounts: pr.read('diskMounts', readMountPercents, undefined) ?? {},
    diskIgnoreTypes: pr.stringList('diskIgnoreTypes', (s) => (/^[a-z0-9._-]{1,64}$/.test(s) ? undefined : 'must be a filesystem type such as tmpfs')) ?? [
      ...DEFAULT_THRESHOLDS.diskIgnoreTypes,
    ],
    pidUsedPercent: pr.read('pidUsedPercent', readPercent, undefined) ?? DEFAULT_THRESHOLDS.pidUsedPercent,
  };
  pr.done();

  const ev = f.section('events');
  const eventRetentionMs =
    ev.duration('retention', { min: 10_000, max: 30 * 86_400_000, wholeSeconds: true, why: 'events live on an etcd lease' }) ??
    DEFAULT_EVENT_RETENTION_MS;
  ev.done();
  const stateFile = f.string('stateFile', absolutePath);
  f.done();
  if (!enabled) return null;

  const out: ProblemsConfig = {
    kernel: kernelOn
      ? { ...(rules !== undefined ? { rules } : {}), ...(source ? { source } : {}), ...(logPath ? { path: logPath } : {}), format }
      : null,
    pressure: pressureOn ? { intervalMs, transitionPeriodMs, thresholds } : null,
    eventRetentionMs,
  };
  if (stateFile !== undefined) out.stateFile = stateFile;
  return out;
}

/**
 * Load the kernel monitor's rule file: `problems.kernel.rules` if set, else /etc/beacon/kernel-monitor.json
 * when present, else the shipped config/kernel-monitor.json (an asset inside the single executable).
 * Throws ConfigError naming the file and the rule field (`kernel-monitor.json: rules[3].pattern`).
 */
export function loadKernelRules(kernel: KernelLogConfig): Promise<RuleSet> {
  // Read once per loaded config: the load checks the file and the agent's start uses what it read,
  // so the two cannot disagree. A config loaded anew (a restart, `validate` again) reads it anew.
  let rules = loadedRules.get(kernel);
  if (!rules) {
    rules = readKernelRules(kernel);
    loadedRules.set(kernel, rules);
    rules.catch(() => loadedRules.delete(kernel));
  }
  return rules;
}

const loadedRules = new WeakMap<KernelLogConfig, Promise<RuleSet>>();

async function readKernelRules(kernel: KernelLogConfig): Promise<RuleSet> {
  if (kernel.rules !== undefined) return loadRules(kernel.rules);
  if (existsSync(SYSTEM_RULES_PATH)) return loadRules(SYSTEM_RULES_PATH);
  const sea = await import('node:sea');
  if (sea.isSea()) {
    let text: string;
    try {
      text = sea.getAsset(SHIPPED_RULES, 'utf8');
    } catch (err) {
      throw new ConfigError('problems.kernel.rules', undefined, `no rule file: set it, or install ${SYSTEM_RULES_PATH}`, { cause: err });
    }
    return parseRules(JSON.parse(text), `${SHIPPED_RULES} (built in): `);
  }
  // Compiled, this file is dist/src/config/problems.js: the repository root is three levels up.
  return loadRules(fileURLToPath(new URL(`../../../${SHIPPED_RULES}`, import.meta.url)));
}

/** Check the files the section refers to (the rule file), as `beacon validate` and the agent's start do. */
export async function checkProblemsFiles(cfg: ProblemsConfig | null): Promise<void> {
  if (cfg?.kernel) await loadKernelRules(cfg.kernel);
}
