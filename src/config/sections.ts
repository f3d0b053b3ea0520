// A config file is a table of top-level sections, each read by its own parser. New sections (watcher,
// hooks, problems, http) are one more entry in a table: parse → defaults → validate → frozen stays here.
import { Fields, Problems, deepFreeze } from '../util/fields.js';

/** Values given on the command line; they win over the environment and the file. */
export interface Overrides {
  /** `--etcd URLS`: comma-separated endpoints. */
  etcd?: string;
  /** `--prefix P`. */
  prefix?: string;
  /** `--log-level L`. */
  logLevel?: string;
  /** `--cacert FILE`, `--cert FILE`, `--key FILE`, `--user NAME[:PASSWORD]`: etcdctl's flags, same meaning. */
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
}

/** What a parse may consult besides the file: all explicit, so parsing stays pure. */
export interface ParseOptions {
  /** Environment (BEACON_*, ETCDCTL_*); none when absent. */
  env?: Readonly<Record<string, string | undefined>>;
  overrides?: Overrides;
  /** Default node name. */
  hostname?: string;
  /** Directory relative file paths in the file are resolved against (the config file's). */
  baseDir?: string;
}

/** ParseOptions with defaults filled in, plus the problem collector shared by all sections. */
export interface ParseContext {
  problems: Problems;
  env: Readonly<Record<string, string | undefined>>;
  overrides: Overrides;
  hostname?: string;
  baseDir?: string;
}

/** Reads one top-level section's raw value (undefined when absent) into its validated shape. */
export type SectionParser<T> = (raw: unknown, ctx: ParseContext) => T;

/** One parser per top-level key of `T`. */
export type SectionParsers<T> = { [K in keyof T]-?: SectionParser<T[K]> };

/**
 * Parse a raw document with a section table: every section is read (absent ones get defaults), keys not in
 * the table are rejected unless `ignoreOthers`, every problem is collected, and the result is deep-frozen.
 * Throws ConfigError (one problem) or ConfigErrors (several).
 */
export function parseSections<T>(
  raw: unknown,
  parsers: SectionParsers<T>,
  opts: ParseOptions = {},
  { ignoreOthers = false } = {},
): T {
  const ctx: ParseContext = {
    problems: new Problems(),
    env: opts.env ?? {},
    overrides: opts.overrides ?? {},
    hostname: opts.hostname,
    baseDir: opts.baseDir,
  };
  const top = new Fields('', raw, ctx.problems);
  const out = {} as T;
  for (const key of Object.keys(parsers) as (keyof T & string)[]) {
    out[key] = parsers[key](top.get(key), ctx);
  }
  if (!ignoreOthers) top.done();
  ctx.problems.throwIfAny();
  return deepFreeze(out);
}

/** A non-empty environment variable, or undefined (an empty one counts as unset, as in etcdctl). */
export function envValue(ctx: ParseContext, name: string): string | undefined {
  const v = ctx.env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
