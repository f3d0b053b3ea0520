// The node-problem vocabulary, in node-problem-detector's words: conditions (a state with a
// transition time) and events (something happened, counted), plus the log lines they come from.

/** A condition's status, as Kubernetes spells it. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A node condition: `KernelDeadlock`, `ReadonlyFilesystem`, `MemoryPressure`, ... */
export interface Condition {
  /** PascalCase condition name. */
  type: string;
  status: ConditionStatus;
  /** PascalCase reason for the current status (`DockerHung`, `KernelHasNoDeadlock`). */
  reason: string;
  message: string;
  /** When `status` (or `reason`) last changed, ISO 8601. */
  lastTransitionTime: string;
}

/** How serious an event is: `warn` for problems, `info` for condition changes (as node-problem-detector). */
export type EventSeverity = 'info' | 'warn';

/** A node problem event; identical events are coalesced into one with a count. */
export interface ProblemEvent {
  /** Stable while the event is being coalesced: re-emitted with a higher count under the same id. Safe as a key segment. */
  id: string;
  /** The monitor that saw it (`kernel-monitor`). */
  source: string;
  reason: string;
  message: string;
  /** How many identical lines this event stands for. */
  count: number;
  /** ISO 8601 times of the first and latest occurrence. */
  firstTime: string;
  lastTime: string;
  severity: EventSeverity;
}

/** One log line from a source: its time (ms since epoch) and its message text. */
export interface LogLine {
  time: number;
  text: string;
}

/** A log source: yields lines (old ones from the lookback window first, then new ones) until `signal` aborts. */
export interface LogSource {
  /** A short name for logs (`kmsg`, `journal`, `file:/var/log/kern.log`). */
  readonly name: string;
  lines(signal: AbortSignal): AsyncIterable<LogLine>;
}
