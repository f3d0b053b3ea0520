// The one client of the agent's local API (src/agent/api.ts): `PUT /v1/check/<id>` for `beacon check`
// and apps feeding ttl checks, `PUT /v1/maintenance` for `beacon maint`. Over the unix socket or the
// loopback port the config names; `token` is sent as a bearer token (src/util/api-guard.ts).
import http from 'node:http';
import { BeaconError } from '../errors.js';
import type { HealthStatus } from '../types.js';
import type { MaintenanceState } from '../agent/api.js';

/** Where the agent's local API listens: a unix socket, or a loopback host and port. */
export type AgentApiAddress = { socketPath: string } | { host: string; port: number };

/** A report the agent refused or could not take. */
export class CheckReportError extends BeaconError {
  constructor(
    message: string,
    /** HTTP status from the agent (404 unknown check, 400 bad request), or undefined when unreachable. */
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The local API refused a request (statusCode) or could not be reached (statusCode undefined). */
export class AgentApiError extends BeaconError {
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Report a ttl check's status to the local agent (used by `beacon check pass|warn|fail ID`). */
export async function reportCheck(
  address: AgentApiAddress,
  id: string,
  status: HealthStatus,
  note: string | undefined,
  { signal, token, timeoutMs = 5_000 }: { signal?: AbortSignal; token?: string; timeoutMs?: number } = {},
): Promise<void> {
  const body = JSON.stringify({ status, ...(note !== undefined ? { note } : {}) });
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  const { code, text } = await put(address, `/v1/check/${encodeURIComponent(id)}`, body, token, AbortSignal.any(signals), (m, o) => new CheckReportError(m, undefined, o));
  if (code === 200) return;
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // Not JSON: use the raw text.
  }
  throw new CheckReportError(`agent refused the report (${code}): ${message}`, code);
}

/**
 * Turn maintenance on (`reason`) or off (null) through the local agent; resolves what is in maintenance
 * after. `note` (why it ends, say) only goes to the agent's log.
 */
export async function requestMaintenance(
  address: AgentApiAddress,
  service: string | undefined,
  reason: string | null,
  { note, token, timeoutMs = 5_000 }: { note?: string; token?: string; timeoutMs?: number } = {},
): Promise<MaintenanceState> {
  const body = JSON.stringify({ ...(service !== undefined ? { service } : {}), reason, ...(note !== undefined ? { note } : {}) });
  const { code, text } = await put(address, '/v1/maintenance', body, token, AbortSignal.timeout(timeoutMs), (m, o) => new AgentApiError(m, undefined, o));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (code === 200 && typeof parsed === 'object' && parsed !== null) return parsed as MaintenanceState;
  const error = (parsed as { error?: unknown } | undefined)?.error;
  throw new AgentApiError(`agent refused the request (${code}): ${typeof error === 'string' ? error : text.trim()}`, code);
}

// One JSON PUT; an agent that cannot be reached is `unreachable`'s error, naming where it was looked for.
function put(
  address: AgentApiAddress,
  path: string,
  body: string,
  token: string | undefined,
  signal: AbortSignal,
  unreachable: (message: string, options: { cause: unknown }) => BeaconError,
): Promise<{ code: number; text: string }> {
  const where = 'socketPath' in address ? address.socketPath : `${address.host}:${address.port}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...('socketPath' in address ? { socketPath: address.socketPath } : { host: address.host, port: address.port }),
        method: 'PUT',
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        },
        signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(unreachable(`cannot reach the beacon agent at ${where}: ${err.message}`, { cause: err })));
    req.end(body);
  });
}
