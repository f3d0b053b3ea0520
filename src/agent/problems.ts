// Node problems inside the agent: the kernel-log monitor and the pressure monitor feed one merged
// condition list (written to `<prefix>/v1/nodes/<node>/conditions` under the node lease, only when it
// changes), and the monitor's events go to the EventLog (their own lease). State is restored at start
// from the previous run's etcd record, its events and the optional local state file, so a restart
// neither forgets a condition nor replays old kernel lines as new events.
import type { Logger } from 'pino';
import type { ProblemsConfig } from '../config/problems.js';
import type { Keys } from '../etcd/keys.js';
import type { Store } from '../etcd/store.js';
import { NodeConditions } from '../problems/conditions.js';
import { LogMonitor, type MonitorLimits } from '../problems/monitor.js';
import { PressureMonitor } from '../problems/pressure.js';
import type { RuleSet } from '../problems/rules.js';
import { sourceFor } from '../problems/sources.js';
import type { Condition, LogSource, ProblemEvent } from '../problems/types.js';
import { SCHEMA_VERSION, type ConditionsRecord } from '../types.js';
import { EventLog } from './problem-events.js';
import { writeLocalState, type LocalState } from './state-file.js';

/** What the previous run left behind, read at start. */
export interface ProblemsRestore {
  /** The conditions record still in etcd (its node lease had not expired yet). */
  record?: ConditionsRecord;
  /** Newest `lastTime` among this node's events still in etcd (ms since epoch). */
  eventsWatermarkMs?: number;
  /** The local state file's content. */
  local?: LocalState;
}

/** Options of NodeProblems. */
export interface NodeProblemsOptions {
  config: ProblemsConfig;
  /** The kernel rule set (undefined when the kernel monitor is off). */
  rules: RuleSet | undefined;
  node: string;
  bootId: string;
  store: Store;
  keys: Keys;
  log: Logger;
  restore: ProblemsRestore;
  /** The merged conditions changed: the node's records are written again (the difference). */
  onChange: () => void;
  /** Sees the monitor's events as they are emitted (metrics). */
  onEvents?: (events: readonly ProblemEvent[]) => void;
  /** Replace the log source (tests, benchmarks). */
  source?: LogSource;
  limits?: Partial<MonitorLimits>;
  /** How often the local state file is brought up to date (default 5 s). */
  stateIntervalMs?: number;
}

const iso = (ms: number | undefined): string | null => (ms === undefined || ms <= 0 ? null : new Date(ms).toISOString());
const ms = (s: string | null | undefined): number => (s ? Date.parse(s) || 0 : 0);

/** The agent's node problem detection: monitors, merged conditions, events, state file. */
export class NodeProblems {
  /** The kernel-log monitor, when configured. */
  readonly monitor: LogMonitor | undefined;
  /** The pressure monitor, when configured. */
  readonly pressure: PressureMonitor | undefined;
  /** Where events go. */
  readonly events: EventLog;
  private readonly merged: NodeConditions;
  private current: ConditionsRecord;
  private saved = '';

  constructor(private readonly options: NodeProblemsOptions) {
    const { config, rules, node, bootId, log } = options;
    this.events = new EventLog({ store: options.store, keys: options.keys, node, retentionMs: config.eventRetentionMs, log });
    this.current = { schema: SCHEMA_VERSION, node, conditions: [], watermark: null, bootId };
    let started = false;
    this.merged = new NodeConditions((all) => {
      this.current = { schema: SCHEMA_VERSION, node, conditions: all, watermark: iso(this.monitor?.watermark()), bootId };
      if (started) options.onChange();
    });

    if (rules && config.kernel) {
      const r = chooseRestore(options.restore);
      const k = config.kernel;
      const source =
        options.source ??
        sourceFor(rules, { ...(k.source ? { kind: k.source } : {}), ...(k.path ? { path: k.path } : {}), format: k.format });
      this.monitor = new LogMonitor({
        rules,
        source,
        log,
        bootId,
        restore: { ...(r.conditions ? { conditions: r.conditions } : {}), ...(r.sinceMs > 0 ? { since: r.sinceMs } : {}), ...(r.bootId ? { bootId: r.bootId } : {}) },
        onConditions: (c) => this.merged.set(rules.source, c),
        onEvents: (evs) => {
          this.events.add(evs);
          options.onEvents?.(evs);
        },
        ...(options.limits ? { limits: options.limits } : {}),
      });
      this.merged.set(rules.source, this.monitor.conditions());
      log.info({ component: 'problems', source: source.name, rules: rules.rules.length, since: iso(r.sinceMs), restoredFrom: r.from }, 'kernel log monitor started');
    }
    if (config.pressure) {
      const p = config.pressure;
      this.pressure = new PressureMonitor({
        log,
        thresholds: p.thresholds,
        intervalMs: p.intervalMs,
        transitionPeriodMs: p.transitionPeriodMs,
        onConditions: (c) => this.merged.set('pressure', c),
      });
      this.merged.set('pressure', this.pressure.conditions());
    }
    started = true;
  }

  /** The conditions record as it should be in etcd now (changes only when a condition changes). */
  record(): ConditionsRecord {
    return this.current;
  }

  /** Run the monitors until `signal` aborts; then write the last events and the state file. */
  async run(signal: AbortSignal): Promise<void> {
    const writer = new AbortController();
    const eventsDone = this.events.run(writer.signal);
    const stateFile = this.options.config.stateFile;
    let saving = Promise.resolve();
    const tick = stateFile
      ? setInterval(() => {
          saving = saving.then(() => this.saveState(stateFile));
        }, this.options.stateIntervalMs ?? 5_000)
      : undefined;
    try {
      await Promise.all([this.monitor?.run(signal), this.pressure?.run(signal)]);
    } finally {
      clearInterval(tick);
      // The monitors' final flush has queued its events: write them, then stop the writer.
      writer.abort();
      await eventsDone;
      await saving;
      if (stateFile) await this.saveState(stateFile);
    }
  }

  // Bring the state file up to date if the monitor's conditions or watermark moved.
  private async saveState(path: string): Promise<void> {
    if (!this.monitor) return;
    const state = { schema: 1 as const, node: this.options.node, bootId: this.options.bootId, watermark: iso(this.monitor.watermark()), conditions: this.monitor.conditions() };
    const key = JSON.stringify(state);
    if (key === this.saved) return;
    try {
      await writeLocalState(path, { ...state, savedAt: new Date().toISOString() });
      this.saved = key;
    } catch (err) {
      this.options.log.warn({ component: 'problems', err, path }, 'state file not written');
    }
  }
}

/**
 * Which previous state to continue from: conditions from the newer of the etcd record and the local
 * file (by watermark), and a watermark that also counts the events still in etcd.
 */
export function chooseRestore(r: ProblemsRestore): { conditions?: Condition[]; bootId?: string; sinceMs: number; from: string } {
  const etcdMs = ms(r.record?.watermark);
  const localMs = ms(r.local?.watermark);
  const useLocal = r.local !== undefined && (r.record === undefined || localMs > etcdMs);
  const chosen = useLocal ? r.local : r.record;
  const sinceMs = Math.max(etcdMs, localMs, r.eventsWatermarkMs ?? 0);
  return {
    ...(chosen ? { conditions: chosen.conditions, bootId: chosen.bootId } : {}),
    sinceMs,
    from: useLocal ? 'state file' : r.record ? 'etcd' : 'nothing',
  };
}
