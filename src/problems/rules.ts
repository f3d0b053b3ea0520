// Rule files: node-problem-detector's kernel-monitor format, as data. `temporary` rules emit events,
// `permanent` rules set a condition True, and (our addition) `recovery` rules set it back to False;
// a condition may also declare `expireAfter`. Every pattern must match a whole line (it is anchored
// as ^(?:pattern)$) and is compiled at load, so a bad regex fails the config, not the first match.
import { parseDuration } from '../util/duration.js';
import { MAX_AUX_FILE_BYTES, readBoundedFile } from '../util/file.js';
import { checkShape } from '../util/shape.js';
import { ConfigError } from '../errors.js';
import { Problems, unknownFieldProblem } from '../util/fields.js';

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
const TOP_KEYS = new Set(['source', 'plugin', 'logPath', 'lookback', 'resetOnBoot', 'conditions', 'rules', 'description', 'bufferSize', 'metricsReporting']);
const CONDITION_KEYS = new Set(['type', 'reason', 'message', 'expireAfter', 'description']);
const RULE_KEYS = new Set(['type', 'condition', 'reason', 'pattern', 'description']);

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
  const f = (name: string) => `${prefix}${name}`;
  if (!isRecord(raw)) throw new ConfigError(f('(root)'), raw, 'must be an object');
  // Read like the config: every problem of the file at once, typos with the nearest known key.
  const problems = new Problems();
  for (const k of Object.keys(raw)) if (!TOP_KEYS.has(k)) problems.add(f(k), raw[k], unknownFieldProblem(k, TOP_KEYS));

  const source = raw.source ?? 'kernel-monitor';
  if (typeof source !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(source)) {
    throw new ConfigError(f('source'), source, 'must be a lowercase name such as kernel-monitor');
  }
  const plugin = raw.plugin ?? 'kmsg';
  // node-problem-detector calls the journal plugin "journald".
  const pluginKind = plugin === 'journald' ? 'journal' : plugin;
  if (typeof pluginKind !== 'string' || !(SOURCE_KINDS as readonly string[]).includes(pluginKind)) {
    throw new ConfigError(f('plugin'), plugin, `must be one of ${SOURCE_KINDS.join(', ')}`);
  }
  let logPath: string | undefined;
  if (raw.logPath !== undefined) {
    if (typeof raw.logPath !== 'string' || !raw.logPath.startsWith('/')) throw new ConfigError(f('logPath'), raw.logPath, 'must be an absolute path');
    logPath = raw.logPath;
  }
  const lookbackMs = raw.lookback === undefined ? 0 : parseDuration(raw.lookback, f('lookback'));
  const resetOnBoot = raw.resetOnBoot ?? true;
  if (typeof resetOnBoot !== 'boolean') throw new ConfigError(f('resetOnBoot'), resetOnBoot, 'must be true or false');

  const conditions: ConditionDef[] = [];
  const rawConds = raw.conditions ?? [];
  if (!Array.isArray(rawConds)) throw new ConfigError(f('conditions'), rawConds, 'must be a list');
  rawConds.forEach((c: unknown, i) => problems.catch(() => {
    const at = `conditions[${i}]`;
    if (!isRecord(c)) throw new ConfigError(f(at), c, 'must be an object');
    unknownKeys(c, CONDITION_KEYS, f(at));
    const type = pascal(c.type, f(`${at}.type`));
    if (conditions.some((d) => d.type === type)) throw new ConfigError(f(`${at}.type`), type, 'duplicate condition type');
    const def: ConditionDef = { type, reason: pascal(c.reason, f(`${at}.reason`)), message: text(c.message, f(`${at}.message`)) };
    if (c.expireAfter !== undefined) {
      def.expireAfterMs = parseDuration(c.expireAfter, f(`${at}.expireAfter`));
      if (def.expireAfterMs < 1000) throw new ConfigError(f(`${at}.expireAfter`), c.expireAfter, 'must be at least 1s');
    }
    if (c.description !== undefined) text(c.description, f(`${at}.description`));
    conditions.push(Object.freeze(def));
  }));

  const rules: Rule[] = [];
  const rawRules = raw.rules;
  if (!Array.isArray(rawRules) || rawRules.length === 0) throw new ConfigError(f('rules'), rawRules, 'must be a non-empty list');
  rawRules.forEach((r: unknown, i) => problems.catch(() => {
    const at = `rules[${i}]`;
    if (!isRecord(r)) throw new ConfigError(f(at), r, 'must be an object');
    unknownKeys(r, RULE_KEYS, f(at));
    const type = r.type;
    if (typeof type !== 'string' || !(RULE_TYPES as readonly string[]).includes(type)) {
      throw new ConfigError(f(`${at}.type`), type, `must be one of ${RULE_TYPES.join(', ')}`);
    }
    const reason = pascal(r.reason, f(`${at}.reason`));
    let condition: string | undefined;
    if (type === 'temporary') {
      if (r.condition !== undefined) throw new ConfigError(f(`${at}.condition`), r.condition, 'a temporary rule emits an event and sets no condition');
    } else {
      condition = pascal(r.condition, f(`${at}.condition`));
      if (!conditions.some((d) => d.type === condition)) {
        throw new ConfigError(f(`${at}.condition`), condition, `is not declared under conditions (declared: ${conditions.map((d) => d.type).join(', ') || 'none'})`);
      }
    }
    const pattern = r.pattern;
    if (typeof pattern !== 'string' || pattern === '') throw new ConfigError(f(`${at}.pattern`), pattern, 'must be a non-empty regular expression');
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:${pattern})$`, 'u');
    } catch (err) {
      throw new ConfigError(f(`${at}.pattern`), pattern, `invalid regular expression: ${(err as Error).message}`, { cause: err });
    }
    if (r.description !== undefined) text(r.description, f(`${at}.description`));
    rules.push(Object.freeze({ type: type as RuleType, ...(condition ? { condition } : {}), reason, pattern, regex, field: at }));
  }));
  problems.throwIfAny();

  return Object.freeze({
    source,
    plugin: pluginKind as SourceKind,
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

function pascal(v: unknown, field: string): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw new ConfigError(field, v, 'must be a PascalCase name such as KernelDeadlock');
  return v;
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length > 1024) throw new ConfigError(field, v, 'must be a string of at most 1024 characters');
  return v;
}

// Every unknown key of one entry, each with the nearest known one.
function unknownKeys(entry: Record<string, unknown>, known: ReadonlySet<string>, at: string): void {
  const p = new Problems();
  for (const k of Object.keys(entry)) if (!known.has(k)) p.add(`${at}.${k}`, entry[k], unknownFieldProblem(k, known));
  p.throwIfAny();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
