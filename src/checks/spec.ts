// Check config: parse → defaults → validate → frozen CheckSpec. Pure; read with the config's own field
// reader (src/util/fields.ts), so every problem of every check is reported at once, each naming the
// exact field (`services[0].checks[1].timeout`) and the value found there, and typos get "did you mean".
import { formatDuration, parseDuration } from '../util/duration.js';
import { ConfigError } from '../errors.js';
import { Fields, Problems, fieldPath, isMapping, readString, type Check, type Reader } from '../util/fields.js';
import type { HealthStatus } from '../types.js';
import {
  type CheckBase,
  type CheckKind,
  type CheckSpec,
  type ExecCheckSpec,
  type HttpCheckSpec,
  type SystemdCheckSpec,
  type TcpCheckSpec,
  type TtlCheckSpec,
} from './types.js';

/** Interval when the config gives none. */
export const DEFAULT_INTERVAL_MS = 10_000;
/** Shortest interval accepted (Consul's minimum). */
export const MIN_INTERVAL_MS = 1_000;
/** Longest interval (and ttl) accepted: a day keeps every check timer well inside Node's 2^31-1 ms. */
export const MAX_INTERVAL_MS = 86_400_000;
/** Most results a threshold may count (successBeforePassing, failuresBefore*). */
export const MAX_THRESHOLD = 1_000;
/** Ceiling of the default timeout; the default is min(this, interval / 2). */
export const DEFAULT_TIMEOUT_CAP_MS = 5_000;

// The keys that name a kind; `https` is `http` with the scheme required to be https.
const KIND_KEYS = ['http', 'https', 'tcp', 'exec', 'systemd', 'ttl'] as const;

const COMMON_KEYS = new Set([
  'id',
  'name',
  'interval',
  'timeout',
  'initialStatus',
  'successBeforePassing',
  'failuresBeforeWarning',
  'failuresBeforeCritical',
]);
const HTTP_KEYS = new Set(['method', 'headers', 'expectedStatus', 'tlsSkipVerify', 'serverName']);
const STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];

// Ids travel in URLs (`PUT /v1/check/<id>`) and CLI arguments: keep them plain.
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
// systemd unit names (systemd.unit(5)); never starting with "-" so it cannot pass for an option.
const UNIT_RE = /^[A-Za-z0-9:_.\\@-]{1,255}$/;
const METHOD_RE = /^[A-Z]{1,20}$/;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parse one service's `checks:` list into frozen specs.
 * `field` is the list's config path (`services[0].checks`), used to name errors.
 */
export function parseChecks(raw: readonly unknown[], field: string, serviceName: string): CheckSpec[] {
  const problems = new Problems();
  const specs = readChecks(problems, field, raw, serviceName);
  problems.throwIfAny();
  return specs!;
}

/**
 * Read a `checks:` list with the config's field reader: every problem of every check is recorded in
 * `p` (a bad checks[0] hides nothing in checks[1], a bad timeout nothing in the same check's target).
 * Undefined when any check is wrong.
 */
export function readChecks(p: Problems, field: string, raw: unknown, serviceName: string): CheckSpec[] | undefined {
  if (!Array.isArray(raw)) return p.add(field, raw, 'must be a list of checks');
  const before = p.list.length;
  const specs = raw.map((entry, i) => readCheck(p, `${field}[${i}]`, entry, serviceName, i));
  if (p.list.length > before) return undefined;
  const ok = specs as CheckSpec[];
  p.catch(() => assertUniqueCheckIds(ok));
  return p.list.length > before ? undefined : ok;
}

/** Check ids must be unique across the whole agent (TTL reports address them by id). */
export function assertUniqueCheckIds(specs: readonly CheckSpec[]): void {
  const seen = new Map<string, string>();
  for (const s of specs) {
    const prev = seen.get(s.id);
    if (prev !== undefined) {
      throw new ConfigError(`${s.field}.id`, s.id, `duplicate check id (also used by ${prev})`);
    }
    seen.set(s.id, s.field);
  }
}

/** A reader whose value problems come from a function throwing ConfigError (the target parsers below). */
function thrown<T>(parse: (v: unknown, at: string) => T): Reader<T> {
  return (p, at, v) => p.catch(() => parse(v, at));
}

function readCheck(p: Problems, field: string, entry: unknown, service: string, index: number): CheckSpec | undefined {
  if (!isMapping(entry)) {
    return p.add(field, entry, `must be a mapping with one key naming the kind (${KIND_KEYS.join(', ')})`);
  }
  const f = new Fields(field, entry, p);
  const before = p.list.length;
  const kindKeys = KIND_KEYS.filter((k) => f.has(k));
  if (kindKeys.length === 0) {
    // The commonest mistake is a kind we do not have (`script:`, `grpc:`): say so on that key.
    const known = new Set<string>([...KIND_KEYS, ...COMMON_KEYS, ...HTTP_KEYS]);
    const unknown = Object.keys(entry).filter((k) => !known.has(k));
    if (unknown.length > 0) {
      const k = unknown[0]!;
      return p.add(f.at(k), entry[k], `unknown check kind "${k}" (expected one of ${KIND_KEYS.join(', ')})`);
    }
    return p.add(field, entry, `must name a check kind: one of ${KIND_KEYS.join(', ')}`);
  }
  if (kindKeys.length > 1) return p.add(field, entry, `names more than one check kind: ${kindKeys.join(', ')}`);
  const key = kindKeys[0]!;
  const kind: CheckKind = key === 'https' ? 'http' : key;

  const base = readBase(f, service, index, kind);
  const at = f.at(key);
  let spec: CheckSpec | undefined;
  switch (key) {
    case 'http':
    case 'https':
      spec = readHttp(f, base, key);
      break;
    case 'tcp': {
      const target = f.read(key, thrown(parseHostPort), undefined);
      if (base && target) spec = { ...base, kind: 'tcp', ...target } satisfies TcpCheckSpec;
      break;
    }
    case 'exec': {
      const argv = f.read(key, thrown(parseArgv), undefined);
      if (base && argv) spec = { ...base, kind: 'exec', argv: Object.freeze(argv) } satisfies ExecCheckSpec;
      break;
    }
    case 'systemd': {
      const unit = f.read(key, thrown(parseUnit), undefined);
      if (base && unit) spec = { ...base, kind: 'systemd', unit } satisfies SystemdCheckSpec;
      break;
    }
    case 'ttl': {
      const ttlMs = f.read(key, thrown((v) => parseDuration(v, at)), undefined);
      if (ttlMs !== undefined && ttlMs < MIN_INTERVAL_MS) f.fail(key, 'must be at least 1s');
      else if (ttlMs !== undefined && ttlMs > MAX_INTERVAL_MS) f.fail(key, `must be from 1s to ${formatDuration(MAX_INTERVAL_MS)}`);
      else if (base && ttlMs !== undefined) spec = { ...base, kind: 'ttl', ttlMs } satisfies TtlCheckSpec;
      break;
    }
  }
  if (kind !== 'http') {
    for (const k of HTTP_KEYS) if (f.has(k)) f.fail(k, `applies only to http checks, not ${kind}`);
  }
  // Every kind key is known here, so a typo of one (`htttp:` next to `tcp:`) gets its "did you mean".
  for (const k of KIND_KEYS) f.get(k);
  f.done();
  if (!spec || p.list.length > before) return undefined;
  if (!f.has('name')) spec.name = `${kind} ${describeTarget(spec)}`;
  return Object.freeze(spec);
}

const readId: Check<string> = (v) =>
  ID_RE.test(v) ? undefined : 'must be 1-128 letters, digits or ".", "_", ":", "@", "-", starting with a letter or digit';
const readCheckName: Check<string> = (v) => (v.trim() === '' || v.length > 256 ? 'must be a non-empty string of at most 256 characters' : undefined);
const readCount: Reader<number> = (p, at, v) =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_THRESHOLD ? (v as number) : p.add(at, v, `must be a whole number from 0 to ${MAX_THRESHOLD}`);

/** A check interval or timeout: a duration, with the check's own bounds and wording. */
function readCheckDuration(f: Fields, key: string, min: number, minProblem: string): number | undefined {
  const ms = f.read(key, thrown((v, at) => parseDuration(v, at)), undefined);
  if (ms === undefined) return undefined;
  if (ms < min) return f.fail(key, minProblem);
  if (ms > MAX_INTERVAL_MS) return f.fail(key, `must be from 1s to ${formatDuration(MAX_INTERVAL_MS)}`);
  return ms;
}

function readBase(f: Fields, service: string, index: number, kind: CheckKind): CheckBase | undefined {
  const id = f.has('id') ? f.read('id', (p, at, v) => (typeof v === 'string' ? readString(p, at, v, readId) : p.add(at, v, readId('')!)), undefined) : `${service}:${kind}:${index}`;
  const name = f.has('name')
    ? f.read('name', (p, at, v) => (typeof v === 'string' ? readString(p, at, v, readCheckName) : p.add(at, v, readCheckName('')!)), undefined)
    : '';

  let intervalMs: number | undefined = DEFAULT_INTERVAL_MS;
  let timeoutMs: number | undefined = 0;
  if (kind === 'ttl') {
    // A pushed check has no schedule of its own: its TTL is the only clock.
    for (const k of ['interval', 'timeout']) if (f.has(k)) f.fail(k, 'does not apply to ttl checks (the ttl is the deadline)');
  } else {
    if (f.has('interval')) intervalMs = readCheckDuration(f, 'interval', MIN_INTERVAL_MS, 'must be at least 1s');
    timeoutMs = intervalMs === undefined ? undefined : Math.min(DEFAULT_TIMEOUT_CAP_MS, Math.floor(intervalMs / 2));
    if (f.has('timeout')) {
      timeoutMs = readCheckDuration(f, 'timeout', 1, 'must be greater than 0');
      if (timeoutMs !== undefined && intervalMs !== undefined && timeoutMs >= intervalMs) {
        timeoutMs = f.fail('timeout', `timeout must be less than interval: timeout=${formatDuration(timeoutMs)} interval=${formatDuration(intervalMs)}`);
      }
    }
  }

  const initialStatus = f.has('initialStatus') ? f.oneOf('initialStatus', STATUSES) : 'critical';
  const successBeforePassing = f.read('successBeforePassing', readCount, undefined) ?? 0;
  const failuresBeforeCritical = f.read('failuresBeforeCritical', readCount, undefined) ?? 0;
  // Consul: failuresBeforeWarning defaults to failuresBeforeCritical (no warning stage).
  const failuresBeforeWarning = f.has('failuresBeforeWarning') ? f.read('failuresBeforeWarning', readCount, undefined) : failuresBeforeCritical;
  if (failuresBeforeWarning !== undefined && !f.bad('failuresBeforeCritical') && failuresBeforeWarning > failuresBeforeCritical) {
    f.fail(
      'failuresBeforeWarning',
      `failuresBeforeWarning must not exceed failuresBeforeCritical: failuresBeforeWarning=${failuresBeforeWarning} failuresBeforeCritical=${failuresBeforeCritical}`,
    );
  }
  if (id === undefined || name === undefined || intervalMs === undefined || timeoutMs === undefined || initialStatus === undefined || failuresBeforeWarning === undefined) {
    return undefined;
  }
  return {
    id,
    name,
    service,
    field: f.path,
    intervalMs,
    timeoutMs,
    initialStatus,
    successBeforePassing,
    failuresBeforeWarning,
    failuresBeforeCritical,
  };
}

function parseHttpUrl(target: unknown, at: string, key: 'http' | 'https'): URL {
  if (typeof target !== 'string' || target.trim() === '') throw new ConfigError(at, target, 'must be a URL');
  let url: URL;
  try {
    url = new URL(target);
  } catch (err) {
    throw new ConfigError(at, target, 'must be an absolute URL such as http://127.0.0.1:8080/healthz', { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(at, target, 'must be an http:// or https:// URL');
  if (key === 'https' && url.protocol !== 'https:') throw new ConfigError(at, target, 'an https check must use an https:// URL');
  if (url.username || url.password) throw new ConfigError(at, target, 'must not carry credentials; use headers');
  return url;
}

const readHeaders: Reader<Record<string, string>> = (p, at, v) => {
  if (!isMapping(v)) return p.add(at, v, 'must be a mapping of header name to value');
  const headers: Record<string, string> = {};
  let ok = true;
  for (const [name, value] of Object.entries(v)) {
    const f = fieldPath(at, name);
    if (!HEADER_NAME_RE.test(name)) {
      ok = p.add(f, name, 'is not a valid header name') ?? false;
      continue;
    }
    // Consul writes header values as lists; accept both.
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0 || !values.every((x) => typeof x === 'string' && !/[\r\n\0]/.test(x))) {
      ok = p.add(f, value, 'must be a string (or a list of strings) without line breaks') ?? false;
      continue;
    }
    headers[name] = (values as string[]).join(', ');
  }
  return ok ? headers : undefined;
};

const readExpectedStatus: Reader<number[]> = (p, at, v) => {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((x) => Number.isInteger(x) && (x as number) >= 100 && (x as number) <= 599)) {
    return p.add(at, v, 'must be an HTTP status code (100-599) or a list of them');
  }
  return list as number[];
};

const readBool: Reader<boolean> = (p, at, v) => (typeof v === 'boolean' ? v : p.add(at, v, 'must be true or false'));

function readHttp(f: Fields, base: CheckBase | undefined, key: 'http' | 'https'): HttpCheckSpec | undefined {
  const url = f.read(key, thrown((v, at) => parseHttpUrl(v, at, key)), undefined);
  const method = f.read('method', (p, at, v) => (typeof v === 'string' && METHOD_RE.test(v.toUpperCase()) ? v.toUpperCase() : p.add(at, v, 'must be an HTTP method such as GET or HEAD')), undefined) ?? 'GET';
  const headers = f.read('headers', readHeaders, undefined) ?? {};
  const expectedStatus = f.read('expectedStatus', readExpectedStatus, undefined);
  // With a URL that did not parse, whether it is https is unknown: only the URL's own problem is reported.
  const tls = url ? url.protocol === 'https:' : undefined;
  const tlsSkipVerify = f.read('tlsSkipVerify', readBool, undefined);
  if (tlsSkipVerify !== undefined && tls === false) f.fail('tlsSkipVerify', 'applies only to https:// URLs');
  const serverName = f.read('serverName', (p, at, v) => (typeof v === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(v) ? v : p.add(at, v, 'must be a DNS name')), undefined);
  if (serverName !== undefined && tls === false) f.fail('serverName', 'applies only to https:// URLs');
  if (!base || !url) return undefined;
  return {
    ...base,
    kind: 'http',
    url: url.href,
    method,
    headers: Object.freeze(headers),
    ...(expectedStatus ? { expectedStatus: Object.freeze(expectedStatus) } : {}),
    tlsSkipVerify: tlsSkipVerify ?? false,
    ...(serverName !== undefined ? { serverName } : {}),
  };
}

function parseHostPort(v: unknown, at: string): { host: string; port: number } {
  const problem = 'must be host:port, e.g. 127.0.0.1:8080 or [::1]:8080';
  if (typeof v !== 'string') throw new ConfigError(at, v, problem);
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) throw new ConfigError(at, v, problem);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(at, v, 'port must be 1-65535');
  return { host: (m[1] ?? m[2])!, port };
}

function parseArgv(v: unknown, at: string): string[] {
  if (typeof v === 'string') {
    if (v.trim() === '') throw new ConfigError(at, v, 'must not be empty');
    // A string is a shell command line, as users write it in a terminal.
    return ['/bin/sh', '-c', v];
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
    throw new ConfigError(at, v, 'must be a list of strings (program and arguments) or a shell command string');
  }
  if ((v[0] as string).trim() === '') throw new ConfigError(`${at}[0]`, v[0], 'program must not be empty');
  return [...(v as string[])];
}

function parseUnit(v: unknown, at: string): string {
  if (typeof v !== 'string' || !UNIT_RE.test(v) || v.startsWith('-')) {
    throw new ConfigError(at, v, 'must be a systemd unit name such as web.service');
  }
  // systemctl assumes ".service" for a bare name; spell it out so logs and output say what is checked.
  return v.includes('.') ? v : `${v}.service`;
}

/** What a check points at, for default names and log lines. */
export function describeTarget(spec: CheckSpec): string {
  switch (spec.kind) {
    case 'http':
      return spec.url;
    case 'tcp':
      return spec.host.includes(':') ? `[${spec.host}]:${spec.port}` : `${spec.host}:${spec.port}`;
    case 'exec':
      return spec.argv.join(' ');
    case 'systemd':
      return spec.unit;
    case 'ttl':
      return formatDuration(spec.ttlMs);
  }
}

/** Every key that names a check kind in the config (`https` is an http check that requires TLS). */
export const CHECK_KEYS: readonly string[] = KIND_KEYS;
