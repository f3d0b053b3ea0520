// The registry of log sources: one constructor per kind a rule file's `plugin` can name.
import { ConfigError } from '../errors.js';
import { FileSource } from './file.js';
import { JournalSource } from './journald.js';
import { KmsgSource } from './kmsg.js';
import type { RuleSet, SourceKind } from './rules.js';
import type { LogSource } from './types.js';

/** What any source may be given; each kind takes what applies to it. */
export interface SourceOptions {
  /** kmsg device or plain file path. */
  path?: string;
  /** How far back to read at start. */
  lookbackMs: number;
  /** Polling pause for kmsg and file (ms). */
  pollMs?: number;
  /** Plain files: strip syslog prefixes (`auto`, default) or not (`raw`). */
  format?: 'auto' | 'raw';
  now?: () => number;
}

/** One constructor per source kind. */
export const sources = {
  kmsg: (o: SourceOptions) => new KmsgSource({ ...(o.path ? { path: o.path } : {}), ...(o.pollMs ? { pollMs: o.pollMs } : {}) }),
  journal: (o: SourceOptions) => new JournalSource({ lookbackMs: o.lookbackMs, ...(o.now ? { now: o.now } : {}) }),
  file: (o: SourceOptions) => {
    if (!o.path) throw new ConfigError('logPath', o.path, 'a file source needs a path');
    return new FileSource({
      path: o.path,
      ...(o.pollMs ? { pollMs: o.pollMs } : {}),
      ...(o.format ? { format: o.format } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
  },
} satisfies Record<SourceKind, (o: SourceOptions) => LogSource>;

/** The source a rule file asks for (`plugin`, `logPath`, `lookback`), with overrides from the agent config. */
export function sourceFor(rules: RuleSet, overrides: Partial<SourceOptions> & { kind?: SourceKind } = {}): LogSource {
  const kind = overrides.kind ?? rules.plugin;
  const path = overrides.path ?? rules.logPath;
  return sources[kind]({ lookbackMs: rules.lookbackMs, ...overrides, ...(path ? { path } : {}) });
}
