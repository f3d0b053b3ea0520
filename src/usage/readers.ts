// One reader per kind of source, chosen by the config's `unit:` or `cgroup:` (like check probes).
import type { UsageSource } from '../types.js';
import { readCgroup } from './cgroup.js';
import type { ReaderOptions, UsageReader, UsageReading } from './types.js';
import { readUnit } from './unit.js';

type ReaderOf = { [K in UsageSource['kind']]: UsageReader<Extract<UsageSource, { kind: K }>> };

/** The reader of each source kind. */
export const readers = {
  cgroup: (s, opts) => readCgroup(s.path, opts),
  unit: (s, opts) => readUnit(s.unit, opts),
} satisfies ReaderOf;

/** Read any source with its kind's reader. */
export function readSource(source: UsageSource, opts: ReaderOptions): Promise<UsageReading> {
  return source.kind === 'cgroup' ? readers.cgroup(source, opts) : readers.unit(source, opts);
}

/** How a source is named in records and output: `cgroup:/x` or `unit:web.service`. */
export function sourceName(source: UsageSource): string {
  return source.kind === 'cgroup' ? `cgroup:${source.path}` : `unit:${source.unit}`;
}
