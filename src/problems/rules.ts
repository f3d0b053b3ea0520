// Rule files: node-problem-detector's kernel-monitor format, as data. `temporary` rules emit events,
// `permanent` rules set a condition True, and (our addition) `recovery` rules set it back to False;
// a condition may also declare `expireAfter`. Every pattern must match a whole line (it is anchored
// as ^(?:pattern)$) and is compiled at load, so a bad regex fails the config, not the first match.
import { parseDuration } from '../util/duration.js';
import { MAX_AUX_FILE_BYTES, readBoundedFile } from '../util/file.js';
import { checkShape } from '../util/shape.js';
import { ConfigError } from '../errors.js';
import { Fields, Problems, isMapping, readEnum, type Reader } from '../util/fields.js';

/** Longest line (in characters) matched against rules; longer lines are cut first (bounded regex cost). */
export const MAX_LINE_CHARS = 4096;

/** Source kinds a rule file may name as its `plugin`. */
export type SourceKind = 'kmsg' | 'journal' | 'file';
const SOURCE_KINDS: readonly SourceKind[] = ['kmsg', 'journal', 'file'];

/** What a rule does when it matches. */
export type RuleType = 'temporary' | 'permanent' | 'recovery';
const RULE_TYPES: readonly RuleType[] = ['temporary', 'permanent', 'recovery'];

/** A condition a rule file declares, with its default (False) reason and message. */
export interface ConditionDef {
  type: string;
  reason: string;
  message: string;
  /** Back to the default this long after the last matching line (undefined: only recovery or reboot clears it). */
  expireAfterMs?: number;
}

/** One compiled rule. */
export interface Rule {
  type: RuleType;
  /** The condition a permanent or recovery rule sets. */
  condition?: string;
  reason: string;
  /** The pattern as written. */
  pattern: string;
  /** The pattern anchored to the whole line. */
  regex: RegExp;
  /** Config path of the rule (`rules[3]`), for logs. */
  field: string;
}

/** A validated rule file. */
export interface RuleSet {
  /** Name of the monitor (`kernel-monitor`); events carry it as their source. */
  source: string;
  /** The log source the file was written for, and its path (kmsg device or plain file). */
  plugin: SourceKind;
  logPath?: string;
  /** How far back to read at start. */
  lookbackMs: number;
  /** Whether conditions start from their defaults after a reboot (kernel conditions do). */
  resetOnBoot: boolean;
  conditions: readonly ConditionDef[];
  rules: readonly Rule[];
}

const NAME_RE = /^[A-Z][A-Za-z0-9]{0,63}$/;

/** Read and validate a rule file; errors name the file and the field. */
export async function loadRules(path: string): Promise<RuleSet> {
  // Bounded like the config file: a FIFO or a huge file named as the rule file must not hang or swamp the agent.
  const text = (await readBoundedFile(path, { field: path, maxBytes: MAX_AUX_FILE_BYTES, unreadable: 'cannot read rule file' })).toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, undefined, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  checkShape(path, raw);
  return parseRules(raw, `${path}: `);
}

/** Validate a parsed rule file; `prefix` goes before every field name in errors. */
export function parseRules(raw: unknown, prefix = ''): RuleSet {
  // Read like the config, with its field reader: every problem of the file at once, typos with the nearest key.
  const problems = new Problems();
  const out = readRules(problems, raw);
  if (problems.list.length > 0) {
    const named = new Problems();
    for (const e of problems.list) named.list.push(new ConfigError(`${prefix}${e.field}`, e.value, e.problem));
    named.throwIfAny();
  }
  return out!;
}

const readBool: Reader<boolean> = (p, at, v) => (typeof v === 'boolean' ? v : p.add(at, v, 'must be true or false'));
const readPascal: Reader<string> = (p, at, v) =>
  typeof v === 'string' && NAME_RE.test(v) ? v : p.add(at, v, 'must be a PascalCase name such as KernelDeadlock');
const readText: Reader<string> = (p, at, v) =>
  typeof v === 'string' && v.length <= 1024 ? v : p.add(at, v, 'must be a string of at most 1024 characters');
const readDurationValue: Reader<number> = (p, at, v) => p.catch(() => parseDuration(v, at));
const readRuleType: Reader<RuleType> = (p, at, v) => readEnum(p, at, v, RULE_TYPES);

/** A field every entry must have: a missing one gets the same words as a wrong one, naming what is expected. */
function need<T>(f: Fields, key: string, reader: Reader<T>): T | undefined {
  const v = f.get(key);
  if (v !== undefined) return f.read(key, reader, undefined);
  const scratch = new Problems();
  reader(scratch, f.at(key), undefined, undefined);
  return f.fail(key, scratch.list[0]!.problem, undefined);
}
/** A list of mappings (null items are errors); `nonEmpty` refuses an empty one. */
function readEntries(p: Problems, at: string, v: unknown, nonEmpty: boolean): Fields[] | undefined {
  if (!Array.isArray(v) || (nonEmpty && v.length === 0)) return p.add(at, v, nonEmpty ? 'must be a non-empty list' : 'must be a list');
  return v.map((item, i) => {
    const f = new Fields(`${at}[${i}]`, isMapping(item) ? item : {}, p);
    if (!isMapping(item)) p.add(f.path, item, 'must be an object');
    return f;
  });
}

function readRules(p: Problems, raw: unknown): RuleSet | undefined {
  if (!isMapping(raw)) return p.add('(root)', raw, 'must be an object');
  const f = new Fields('', raw, p);
  const source =
    f.read('source', (q, at, v) => (typeof v === 'string' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(v) ? v : q.add(at, v, 'must be a lowercase name such as kernel-monitor')), undefined) ??
    'kernel-monitor';
  // node-problem-detector calls the journal plugin "journald".
  const plugin =
    f.read('plugin', (q, at, v) => (v === 'journald' ? 'journal' : (SOURCE_KINDS as readonly unknown[]).includes(v) ? (v as SourceKind) : q.add(at, v, `must be one of ${SOURCE_KINDS.join(', ')}`)), undefined) ??
    'kmsg';
  const logPath = f.read('logPath', (q, at, v) => (typeof v === 'string' && v.startsWith('/') ? v : q.add(at, v, 'must be an absolute path')), undefined);
  const lookbackMs = f.read('lookback', readDurationValue, undefined) ?? 0;
  const resetOnBoot = f.read('resetOnBoot', readBool, undefined) ?? true;
  for (const k of ['description', 'bufferSize', 'metricsReporting']) f.get(k); // node-problem-detector's, accepted and unused

  const conditions: ConditionDef[] = [];
  for (const c of f.has('conditions') ? (readEntries(p, 'conditions', f.get('conditions'), false) ?? []) : []) {
    const before = p.list.length;
    const type = need(c, 'type', readPascal);
    if (type !== undefined && conditions.some((d) => d.type === type)) c.fail('type', 'duplicate condition type');
    const reason = need(c, 'reason', readPascal);
    const message = need(c, 'message', readText);
    const expireAfterMs = c.read('expireAfter', readDurationValue, undefined);
    if (expireAfterMs !== undefined && expireAfterMs < 1000) c.fail('expireAfter', 'must be at least 1s');
    c.read('description', readText, undefined);
    c.done();
    if (p.list.length > before || type === undefined || reason === undefined || message === undefined) continue;
    conditions.push(Object.freeze({ type, reason, message, ...(expireAfterMs !== undefined ? { expireAfterMs } : {}) }));
  }

  const rules: Rule[] = [];
  const ruleFields = readEntries(p, 'rules', f.get('rules'), true) ?? [];
  f.done();
  for (const r of ruleFields) {
    const before = p.list.length;
    const type = need(r, 'type', readRuleType);
    const reason = need(r, 'reason', readPascal);
    let condition: string | undefined;
    if (type === 'temporary') {
      if (r.has('condition')) r.fail('condition', 'a temporary rule emits an event and sets no condition');
    } else if (type !== undefined) {
      condition = need(r, 'condition', readPascal);
      if (condition !== undefined && !conditions.some((d) => d.type === condition)) {
        r.fail('condition', `is not declared under conditions (declared: ${conditions.map((d) => d.type).join(', ') || 'none'})`);
      }
    } else {
      r.get('condition');
    }
    const pattern = need(r, 'pattern', (q, at, v) => (typeof v === 'string' && v !== '' ? v : q.add(at, v, 'must be a non-empty regular expression')));
    let regex: RegExp | undefined;
    if (pattern !== undefined) {
      try {
        regex = new RegExp(`^(?:${pattern})$`, 'u');
      } catch (err) {
        r.fail('pattern', `invalid regular expression: ${(err as Error).message}`);
      }
    }
    r.read('description', readText, undefined);
    r.done();
    if (p.list.length > before || type === undefined || reason === undefined || pattern === undefined || regex === undefined) continue;
    rules.push(Object.freeze({ type, ...(condition ? { condition } : {}), reason, pattern, regex, field: r.path }));
  }
  if (p.list.length > 0) return undefined;

  return Object.freeze({
    source,
    plugin,
    ...(logPath ? { logPath } : {}),
    lookbackMs,
    resetOnBoot,
    conditions: Object.freeze(conditions),
    rules: Object.freeze(rules),
  });
}

/** The rules a line matches (all of them: one line may emit an event and set a condition). */
export function matchingRules(rules: readonly Rule[], line: string): Rule[] {
  const text = line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line;
  const out: Rule[] = [];
  for (const r of rules) if (r.regex.test(text)) out.push(r);
  return out;
}
