// Typed readers over raw parsed YAML/JSON. Every problem becomes a ConfigError naming the field path
// (`services[1].port`) and the value; problems are collected so one run reports all of them.
// Shared by every config section (agent, watcher, hooks...): nothing here knows about a section.
import { isIP } from 'node:net';
import { ConfigError, ConfigErrors } from '../errors.js';
import { formatDuration, parseDuration } from './duration.js';

/** Why a value is wrong, or undefined when it is fine. */
export type Check<T> = (value: T) => string | undefined;

/** A raw mapping as parsed from YAML or JSON. */
export type RawMapping = Record<string, unknown>;

// Field names whose values never appear in messages: a typo'd `passwrod:` is still a secret.
const SECRET_NAME = /pas+w|pwd|secret|token/i;
const SHOWN_SECRET = '***';

/** Collects every problem found in one config, so the operator sees them all at once. */
export class Problems {
  readonly list: ConfigError[] = [];

  /** Record a problem; returns undefined so readers can `return problems.add(...)`. */
  add(field: string, value: unknown, problem: string): undefined {
    this.list.push(new ConfigError(field, redact(field, value), problem));
    return undefined;
  }

  /** Run `fn`, recording a ConfigError it throws instead of propagating it. */
  catch<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // A reader that found several problems reports them all, not the first.
      if (err instanceof ConfigErrors) {
        for (const e of err.errors) this.add(e.field, e.value, e.problem);
        return undefined;
      }
      return this.add(err.field, err.value, err.problem);
    }
  }

  /** Throw what was collected: the single ConfigError, or a ConfigErrors listing all of them. */
  throwIfAny(): void {
    if (this.list.length === 1) throw this.list[0];
    if (this.list.length > 1) throw new ConfigErrors(this.list);
  }
}

/** Whether `value` is a plain mapping (not null, not an array). */
export function isMapping(value: unknown): value is RawMapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Path of `key` below `path`: `node` + `ttl` → `node.ttl`; odd keys are quoted: `labels["a.b/c"]`. */
export function fieldPath(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

/** Hide secrets in a value about to be shown: the whole value when the field is secret, else secret keys inside. */
export function redact(field: string, value: unknown): unknown {
  const last = field.split(/[.[]/).pop() ?? '';
  if (value !== undefined && SECRET_NAME.test(last)) return SHOWN_SECRET;
  if (Array.isArray(value)) return value.map((v) => redact('', v));
  if (isMapping(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(k, v)]));
  }
  return value;
}

/** Reads a value of some type at `field`; records a problem and returns undefined when it is wrong. */
export type Reader<T, O = undefined> = (problems: Problems, field: string, value: unknown, opts: O) => T | undefined;

/** A string, optionally checked. */
export const readString: Reader<string, Check<string> | undefined> = (p, field, value, check) => {
  if (typeof value !== 'string') return p.add(field, value, 'must be a string');
  const problem = check?.(value);
  return problem ? p.add(field, value, problem) : value;
};

/** A whole number within [min, max]. */
export const readInteger: Reader<number, { min: number; max: number }> = (p, field, value, { min, max }) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return p.add(field, value, `must be a whole number from ${min} to ${max}`);
  }
  return value;
};

/** Bounds of a duration; `why` explains the minimum to the operator. */
export interface DurationLimits {
  min?: number;
  max?: number;
  wholeSeconds?: boolean;
  why?: string;
}

/**
 * Longest delay a Node timer takes (2^31-1 ms, about 24.8 days): a longer one fires at once (with a
 * TimeoutOverflowWarning), so any duration that may end up in setTimeout is at most this by default.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in milliseconds (see duration.ts), within limits (at most MAX_TIMER_MS unless `max` says otherwise). */
export const readDuration: Reader<number, DurationLimits> = (p, field, value, limits) => {
  const ms = p.catch(() => parseDuration(value, field));
  if (ms === undefined) return undefined;
  const { min = 0, max = MAX_TIMER_MS, wholeSeconds = false, why } = limits;
  if (wholeSeconds && ms % 1000 !== 0) return p.add(field, value, 'must be a whole number of seconds');
  // Both bounds in the message, whichever end was missed: the operator sees the allowed range at once.
  if (ms < min || ms > max) return p.add(field, value, `must be from ${formatDuration(min)} to ${formatDuration(max)}${why ? ` (${why})` : ''}`);
  return ms;
};

/** One of a fixed set of strings. */
export function readEnum<T extends string>(p: Problems, field: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    return p.add(field, value, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** A list (its items unread). */
export const readList: Reader<unknown[]> = (p, field, value) =>
  Array.isArray(value) ? value : p.add(field, value, 'must be a list');

/** A list of strings, each optionally checked; item problems name `field[i]`. */
export const readStringList: Reader<string[], Check<string> | undefined> = (p, field, value, check) => {
  const items = readList(p, field, value, undefined);
  if (!items) return undefined;
  const out = items.map((item, i) => readString(p, `${field}[${i}]`, item, check));
  return out.every((s) => s !== undefined) ? (out as string[]) : undefined;
};

/** A string → string mapping with checked keys and values, and at most `maxEntries` entries when given. */
export const readStringMap: Reader<Record<string, string>, { key: Check<string>; value: Check<string>; maxEntries?: number }> = (
  p,
  field,
  value,
  checks,
) => {
  if (!isMapping(value)) return p.add(field, value, 'must be a mapping of strings to strings');
  // Counted before the entries are read: a thousand bad entries are one problem, not a thousand.
  const n = Object.keys(value).length;
  if (checks.maxEntries !== undefined && n > checks.maxEntries) {
    return p.add(field, `${n} entries`, `must have at most ${checks.maxEntries} entries`);
  }
  let ok = true;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const at = fieldPath(field, k);
    const keyProblem = checks.key(k);
    if (keyProblem) {
      p.add(at, k, `key ${keyProblem}`);
      ok = false;
    }
    const s = readString(p, at, v, checks.value);
    if (s === undefined) ok = false;
    else out[k] = s;
  }
  return ok ? out : undefined;
};

/** A list of at most `max` strings, each optionally checked (the count is checked before the items). */
export const readBoundedStringList: Reader<string[], { max: number; check?: Check<string> }> = (p, field, value, { max, check }) => {
  if (Array.isArray(value) && value.length > max) return p.add(field, `${value.length} items`, `must have at most ${max} items`);
  return readStringList(p, field, value, check);
};

/** A list of mappings, one Fields per item at `field[i]` (a null item is an error, not an empty mapping). */
export const readSections: Reader<Fields[]> = (p, field, value) =>
  readList(p, field, value, undefined)?.map((item, i) => new Fields(`${field}[${i}]`, item, p, { nullable: false }));

/** Reads one raw mapping key by key; `done()` then rejects every key nobody asked for. */
export class Fields {
  private readonly data: RawMapping;
  private readonly asked = new Set<string>();
  private readonly failed = new Set<string>();
  /** False when the value was not a mapping (already reported): `required` then stays quiet. */
  readonly ok: boolean;

  /** With `nullable` (the default) null/undefined reads as an empty mapping: an absent section means "all defaults". */
  constructor(
    readonly path: string,
    value: unknown,
    readonly problems: Problems,
    { nullable = true } = {},
  ) {
    this.data = isMapping(value) ? value : {};
    this.ok = isMapping(value) || (nullable && value == null);
    if (!this.ok) problems.add(path || 'config', value, 'must be a mapping');
  }

  /** Dotted path of `key` in this mapping. */
  at(key: string): string {
    return fieldPath(this.path, key);
  }

  /** Whether `key` is set (null counts as unset). */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Whether reading `key` recorded a problem (so cross-field checks can stay quiet). */
  bad(key: string): boolean {
    return this.failed.has(key);
  }

  /** The raw value of `key`, undefined when absent or null; marks the key as known. */
  get(key: string): unknown {
    this.asked.add(key);
    const v = Object.hasOwn(this.data, key) ? this.data[key] : undefined;
    return v === null ? undefined : v;
  }

  /** Read `key` with any reader; undefined when absent or wrong. */
  read<T, O>(key: string, reader: Reader<T, O>, opts: O): T | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const out = reader(this.problems, this.at(key), v, opts);
    if (out === undefined) this.failed.add(key);
    return out;
  }

  /** Record a problem about `key` (a cross-field rule, a missing value). */
  fail(key: string, problem: string, value: unknown = this.get(key)): undefined {
    this.failed.add(key);
    return this.problems.add(this.at(key), value, problem);
  }

  /** A key that must be present; records `is required` when absent. */
  required<T, O>(key: string, reader: Reader<T, O>, opts: O): T | undefined {
    if (!this.has(key)) return this.ok ? this.fail(key, 'is required') : undefined;
    return this.read(key, reader, opts);
  }

  string(key: string, check?: Check<string>): string | undefined {
    return this.read(key, readString, check);
  }
  integer(key: string, range: { min: number; max: number }): number | undefined {
    return this.read(key, readInteger, range);
  }
  duration(key: string, limits: DurationLimits = {}): number | undefined {
    return this.read(key, readDuration, limits);
  }
  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    return this.read(key, readEnum<T>, allowed);
  }
  stringList(key: string, check?: Check<string>): string[] | undefined {
    return this.read(key, readStringList, check);
  }
  stringMap(key: string, checks: { key: Check<string>; value: Check<string>; maxEntries?: number }): Record<string, string> | undefined {
    return this.read(key, readStringMap, checks);
  }

  /** A nested mapping, read with its own Fields (absent → empty). */
  section(key: string): Fields {
    return new Fields(this.at(key), this.get(key), this.problems);
  }

  /** A list of mappings, one Fields per item at `key[i]`. */
  sections(key: string): Fields[] {
    return this.read(key, readSections, undefined) ?? [];
  }

  /** Reject every key that no reader asked for, suggesting the closest known one. */
  done(): void {
    for (const [key, value] of Object.entries(this.data)) {
      if (this.asked.has(key)) continue;
      const near = closest(key, [...this.asked]);
      // A typo of a secret's name still holds the secret.
      const shown = near && SECRET_NAME.test(near) ? SHOWN_SECRET : value;
      this.problems.add(this.at(key), shown, near ? `unknown field (did you mean "${near}"?)` : 'unknown field');
    }
  }
}

/** `unknown field`, with the closest known key when one is near: the message every reader gives for a typo. */
export function unknownFieldProblem(key: string, known: Iterable<string>): string {
  const near = closest(key, [...known]);
  return near ? `unknown field (did you mean "${near}"?)` : 'unknown field';
}

// The known key within edit distance 2 and half the key's length (typos such as `ttll`, `endpoint`), if any.
function closest(key: string, known: string[]): string | undefined {
  const limit = Math.min(2, key.length / 2);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d <= limit && d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

// ---- value checks shared by sections ----

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A non-empty string without control characters, at most `max` long. */
export function text(max: number): Check<string> {
  return (s) => {
    if (s === '') return 'must not be empty';
    if (s.length > max) return `must be at most ${max} characters`;
    if (CONTROL.test(s)) return 'must not contain control characters';
    return undefined;
  };
}

/** Like `text`, but the empty string is allowed (label and meta values). */
export function optionalText(max: number): Check<string> {
  const check = text(max);
  return (s) => (s === '' ? undefined : check(s));
}

const MAP_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$/;

/** Keys of labels and meta: letters, digits, `.`, `_`, `-`, `/`, at most 128, alphanumeric at both ends. */
export const mapKey: Check<string> = (s) =>
  MAP_KEY.test(s) ? undefined : 'must be 1-128 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit';

/** A specific IPv4 or IPv6 address (not the unspecified 0.0.0.0 or ::). */
export const ipAddress: Check<string> = (s) => {
  if (isIP(s) === 0) return 'must be an IPv4 or IPv6 address';
  if (s === '0.0.0.0' || /^[0:]+$/.test(s)) return 'must be a specific address, not the unspecified address';
  return undefined;
};

/** A CIDR such as 10.0.0.0/8 or fd00::/8. */
export const cidr: Check<string> = (s) => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const family = m ? isIP(m[1]) : 0;
  if (!m || family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) {
    return 'must be a CIDR such as 10.0.0.0/8 or fd00::/64';
  }
  return undefined;
};

/** An absolute file path. */
export const absolutePath: Check<string> = (s) => (s.startsWith('/') ? text(4096)(s) : 'must be an absolute path');

/** Deep-freeze a parsed config so no part of beacon can change it behind another's back. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
