// The vocabulary of health checks: what a check is (spec), what one attempt yields (result),
// and the one function shape every kind implements (probe).
import type { HealthStatus } from '../types.js';

/** The kinds of check, each named by the one key that introduces it in the config. */
export type CheckKind = 'http' | 'tcp' | 'exec' | 'systemd' | 'ttl';

/** Every check kind, in the order error messages list them. */
export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'exec', 'systemd', 'ttl'];

/** The outcome of one probe attempt: a value, never an exception (a failing target is not an error). */
export interface CheckResult {
  status: HealthStatus;
  /** Human-readable detail, capped (see output.ts). */
  output: string;
}

/** Fields every check has, whatever its kind. */
export interface CheckBase {
  /** Unique per agent; `<service>:<kind>:<index>` unless the config names one. */
  id: string;
  /** Display name (defaults to the kind and its target). */
  name: string;
  /** The service the check belongs to. */
  service: string;
  /** Config path of the check, e.g. `services[0].checks[1]`, for logs and errors. */
  field: string;
  /** Time between attempts (ms, ≥ 1000). Unused by push (`ttl`) checks. */
  intervalMs: number;
  /** Deadline of one attempt (ms, < intervalMs). Unused by push (`ttl`) checks. */
  timeoutMs: number;
  /** Status before the first result (default critical: unknown is not healthy). */
  initialStatus: HealthStatus;
  /** Consecutive passing/warning results needed before the status leaves critical (Consul semantics). */
  successBeforePassing: number;
  /** Consecutive failures before the status turns warning (defaults to failuresBeforeCritical). */
  failuresBeforeWarning: number;
  /** Consecutive failures before the status turns critical. */
  failuresBeforeCritical: number;
}

/** `http:` / `https:` — request a URL; 2xx passing, 429 warning, anything else critical. */
export interface HttpCheckSpec extends CheckBase {
  kind: 'http';
  url: string;
  method: string;
  headers: Readonly<Record<string, string>>;
  /** When set, these statuses (and only these) are passing; 429 still warns. */
  expectedStatus?: readonly number[];
  tlsSkipVerify: boolean;
  /** TLS server name (SNI and certificate check) when it differs from the URL's host. */
  serverName?: string;
}

/** `tcp: host:port` — connect within the timeout. */
export interface TcpCheckSpec extends CheckBase {
  kind: 'tcp';
  host: string;
  port: number;
}

/** `exec:` — run a command; exit 0 passing, 1 warning, anything else critical. */
export interface ExecCheckSpec extends CheckBase {
  kind: 'exec';
  /** Program and arguments; a string in the config becomes `['/bin/sh', '-c', string]`. */
  argv: readonly string[];
}

/** `systemd: unit` — the unit's ActiveState: active passing, activating/reloading warning, else critical. */
export interface SystemdCheckSpec extends CheckBase {
  kind: 'systemd';
  unit: string;
}

/** `ttl: 30s` — pushed by the app (`beacon check pass|warn|fail ID`); silence past the TTL is critical. */
export interface TtlCheckSpec extends CheckBase {
  kind: 'ttl';
  ttlMs: number;
}

/** A validated, frozen check. */
export type CheckSpec = HttpCheckSpec | TcpCheckSpec | ExecCheckSpec | SystemdCheckSpec | TtlCheckSpec;

/** The spec type of one kind. */
export type SpecOf<K extends CheckKind> = Extract<CheckSpec, { kind: K }>;

/** One attempt of a check: resolve with the outcome; stop promptly and release everything when `signal` aborts. */
export type Probe<S extends CheckSpec = CheckSpec> = (spec: S, signal: AbortSignal) => Promise<CheckResult>;

/** Name of the AbortSignal reason the runner uses for a per-attempt deadline (as AbortSignal.timeout does). */
export const TIMEOUT_REASON = 'TimeoutError';

/** Whether `signal` was aborted by the attempt's deadline rather than by shutdown. */
export function timedOut(signal: AbortSignal): boolean {
  const reason: unknown = signal.reason;
  return signal.aborted && typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === TIMEOUT_REASON;
}
