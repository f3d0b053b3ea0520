// The log lines node problems come from, and their sources. Conditions and events themselves are shared
// vocabulary (src/types.ts: the registry, the codec and the metrics read them too), re-exported here.
export type { Condition, ConditionStatus, EventSeverity, ProblemEvent } from '../types.js';

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
