// Check config: parse → defaults → validate → frozen CheckSpec. Pure; every error is a ConfigError
// naming the exact field (`services[0].checks[1].timeout`) and the value found there.
import { formatDuration, parseDuration } from '../util/duration.js';
import { ConfigError, ConfigErrors } from '../errors.js';
import { Problems, redact, unknownFieldProblem } from '../util/fields.js';
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
  if (!Array.isArray(raw)) throw new ConfigError(field, raw, 'must be a list of checks');
  // Each check is read on its own: a bad checks[0] must not hide a bad checks[1].
  const problems = new Problems();
  const specs = raw.map((entry, i) => problems.catch(() => parseCheck(entry, `${field}[${i}]`, serviceName, i)));
  problems.throwIfAny();
  const ok = specs as CheckSpec[];
  assertUniqueCheckIds(ok);
  return ok;
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

function parseCheck(entry: unknown, field: string, service: string, index: number): CheckSpec {
  if (!isRecord(entry)) {
    throw new ConfigError(field, entry, `must be a mapping with one key naming the kind (${KIND_KEYS.join(', ')})`);
  }
  const kindKeys = KIND_KEYS.filter((k) => k in entry);
  const unknown = Object.keys(entry).filter(
    (k) => !(KIND_KEYS as readonly string[]).includes(k) && !COMMON_KEYS.has(k) && !HTTP_KEYS.has(k),
  );
  if (kindKeys.length === 0) {
    // The commonest mistake is a kind we do not have (`script:`, `grpc:`): say so on that key.
    if (unknown.length > 0) {
      const k = unknown[0]!;
      throw new ConfigError(`${field}.${k}`, entry[k], `unknown check kind "${k}" (expected one of ${KIND_KEYS.join(', ')})`);
    }
    throw new ConfigError(field, entry, `must name a check kind: one of ${KIND_KEYS.join(', ')}`);
  }
  if (kindKeys.length > 1) {
    throw new ConfigError(field, entry, `names more than one check kind: ${kindKeys.join(', ')}`);
  }
  if (unknown.length > 0) {
    const known = [...KIND_KEYS, ...COMMON_KEYS, ...(kindKeys[0] === 'http' || kindKeys[0] === 'https' ? HTTP_KEYS : [])];
    const errors = unknown.map((k) => new ConfigError(`${field}.${k}`, redact(k, entry[k]), unknownFieldProblem(k, known)));
    if (errors.length === 1) throw errors[0];
    throw new ConfigErrors(errors);
  }
  const key = kindKeys[0]!;
  const kind: CheckKind = key === 'https' ? 'http' : key;
  if (kind !== 'http') {
    for (const k of HTTP_KEYS) {
      if (k in entry) throw new ConfigError(`${field}.${k}`, entry[k], `applies only to http checks, not ${kind}`);
    }
  }

  const base = parseBase(entry, field, service, index, kind);
  const target = entry[key];
  const at = `${field}.${key}`;
  let spec: CheckSpec;
  switch (key) {
    case 'http':
    case 'https':
      spec = parseHttp(entry, field, base, target, at, key);
      break;
    case 'tcp':
      spec = { ...base, kind: 'tcp', ...parseHostPort(target, at) } satisfies TcpCheckSpec;
      break;
    case 'exec':
      spec = { ...base, kind: 'exec', argv: Object.freeze(parseArgv(target, at)) } satisfies ExecCheckSpec;
      break;
    case 'systemd':
      spec = { ...base, kind: 'systemd', unit: parseUnit(target, at) } satisfies SystemdCheckSpec;
      break;
    case 'ttl': {
      const ttlMs = parseDuration(target, at);
      if (ttlMs < MIN_INTERVAL_MS) throw new ConfigError(at, target, 'must be at least 1s');
      if (ttlMs > MAX_INTERVAL_MS) throw new ConfigError(at, target, `must be from 1s to ${formatDuration(MAX_INTERVAL_MS)}`);
      spec = { ...base, kind: 'ttl', ttlMs } satisfies TtlCheckSpec;
      break;
    }
  }
  if (!('name' in entry)) spec.name = `${kind} ${describeTarget(spec)}`;
  return Object.freeze(spec);
}

function parseBase(
  entry: Record<string, unknown>,
  field: string,
  service: string,
  index: number,
  kind: CheckKind,
): CheckBase {
  let id = `${service}:${kind}:${index}`;
  if ('id' in entry) {
    const v = entry.id;
    if (typeof v !== 'string' || !ID_RE.test(v)) {
      throw new ConfigError(`${field}.id`, v, 'must be 1-128 letters, digits or ".", "_", ":", "@", "-", starting with a letter or digit');
    }
    id = v;
  }
  let name = '';
  if ('name' in entry) {
    const v = entry.name;
    if (typeof v !== 'string' || v.trim() === '' || v.length > 256) {
      throw new ConfigError(`${field}.name`, v, 'must be a non-empty string of at most 256 characters');
    }
    name = v;
  }

  let intervalMs = DEFAULT_INTERVAL_MS;
  let timeoutMs = 0;
  if (kind === 'ttl') {
    // A pushed check has no schedule of its own: its TTL is the only clock.
    for (const k of ['interval', 'timeout']) {
      if (k in entry) throw new ConfigError(`${field}.${k}`, entry[k], 'does not apply to ttl checks (the ttl is the deadline)');
    }
  } else {
    if ('interval' in entry) {
      intervalMs = parseDuration(entry.interval, `${field}.interval`);
      if (intervalMs < MIN_INTERVAL_MS) throw new ConfigError(`${field}.interval`, entry.interval, 'must be at least 1s');
      if (intervalMs > MAX_INTERVAL_MS) throw new ConfigError(`${field}.interval`, entry.interval, `must be from 1s to ${formatDuration(MAX_INTERVAL_MS)}`);
    }
    timeoutMs = Math.min(DEFAULT_TIMEOUT_CAP_MS, Math.floor(intervalMs / 2));
    if ('timeout' in entry) {
      timeoutMs = parseDuration(entry.timeout, `${field}.timeout`);
      if (timeoutMs <= 0) throw new ConfigError(`${field}.timeout`, entry.timeout, 'must be greater than 0');
      if (timeoutMs >= intervalMs) {
        throw new ConfigError(
          `${field}.timeout`,
          entry.timeout,
          `timeout must be less than interval: timeout=${formatDuration(timeoutMs)} interval=${formatDuration(intervalMs)}`,
        );
      }
    }
  }

  let initialStatus: HealthStatus = 'critical';
  if ('initialStatus' in entry) {
    const v = entry.initialStatus;
    if (typeof v !== 'string' || !(STATUSES as readonly string[]).includes(v)) {
      throw new ConfigError(`${field}.initialStatus`, v, `must be one of ${STATUSES.join(', ')}`);
    }
    initialStatus = v as HealthStatus;
  }
  const successBeforePassing = count(entry, 'successBeforePassing', field);
  const failuresBeforeCritical = count(entry, 'failuresBeforeCritical', field);
  // Consul: failuresBeforeWarning defaults to failuresBeforeCritical (no warning stage).
  const failuresBeforeWarning =
    'failuresBeforeWarning' in entry ? count(entry, 'failuresBeforeWarning', field) : failuresBeforeCritical;
  if (failuresBeforeWarning > failuresBeforeCritical) {
    throw new ConfigError(
      `${field}.failuresBeforeWarning`,
      entry.failuresBeforeWarning,
      `failuresBeforeWarning must not exceed failuresBeforeCritical: failuresBeforeWarning=${failuresBeforeWarning} failuresBeforeCritical=${failuresBeforeCritical}`,
    );
  }
  return {
    id,
    name,
    service,
    field,
    intervalMs,
    timeoutMs,
    initialStatus,
    successBeforePassing,
    failuresBeforeWarning,
    failuresBeforeCritical,
  };
}

function parseHttp(
  entry: Record<string, unknown>,
  field: string,
  base: CheckBase,
  target: unknown,
  at: string,
  key: 'http' | 'https',
): HttpCheckSpec {
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

  let method = 'GET';
  if ('method' in entry) {
    const v = entry.method;
    if (typeof v !== 'string' || !METHOD_RE.test(v.toUpperCase())) throw new ConfigError(`${field}.method`, v, 'must be an HTTP method such as GET or HEAD');
    method = v.toUpperCase();
  }
  const headers: Record<string, string> = {};
  if ('headers' in entry) {
    const v = entry.headers;
    if (!isRecord(v)) throw new ConfigError(`${field}.headers`, v, 'must be a mapping of header name to value');
    for (const [name, value] of Object.entries(v)) {
      const f = `${field}.headers.${name}`;
      if (!HEADER_NAME_RE.test(name)) throw new ConfigError(f, name, 'is not a valid header name');
      // Consul writes header values as lists; accept both.
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || !values.every((x) => typeof x === 'string' && !/[\r\n\0]/.test(x))) {
        throw new ConfigError(f, value, 'must be a string (or a list of strings) without line breaks');
      }
      headers[name] = (values as string[]).join(', ');
    }
  }
  let expectedStatus: number[] | undefined;
  if ('expectedStatus' in entry) {
    const v = entry.expectedStatus;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || !list.every((x) => Number.isInteger(x) && (x as number) >= 100 && (x as number) <= 599)) {
      throw new ConfigError(`${field}.expectedStatus`, v, 'must be an HTTP status code (100-599) or a list of them');
    }
    expectedStatus = list as number[];
  }
  const tls = url.protocol === 'https:';
  let tlsSkipVerify = false;
  if ('tlsSkipVerify' in entry) {
    const v = entry.tlsSkipVerify;
    if (typeof v !== 'boolean') throw new ConfigError(`${field}.tlsSkipVerify`, v, 'must be true or false');
    if (!tls) throw new ConfigError(`${field}.tlsSkipVerify`, v, 'applies only to https:// URLs');
    tlsSkipVerify = v;
  }
  let serverName: string | undefined;
  if ('serverName' in entry) {
    const v = entry.serverName;
    if (typeof v !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(v)) throw new ConfigError(`${field}.serverName`, v, 'must be a DNS name');
    if (!tls) throw new ConfigError(`${field}.serverName`, v, 'applies only to https:// URLs');
    serverName = v;
  }
  return {
    ...base,
    kind: 'http',
    url: url.href,
    method,
    headers: Object.freeze(headers),
    ...(expectedStatus ? { expectedStatus: Object.freeze(expectedStatus) } : {}),
    tlsSkipVerify,
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

function count(entry: Record<string, unknown>, key: string, field: string): number {
  if (!(key in entry)) return 0;
  const v = entry[key];
  if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > MAX_THRESHOLD) {
    throw new ConfigError(`${field}.${key}`, v, `must be a whole number from 0 to ${MAX_THRESHOLD}`);
  }
  return v as number;
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every key that names a check kind in the config (`https` is an http check that requires TLS). */
export const CHECK_KEYS: readonly string[] = KIND_KEYS;
