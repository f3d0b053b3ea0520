// The agent's local API, over a unix socket (default /run/beacon/agent.sock) or a loopback port:
//   PUT /v1/check/<id>     {"status": "passing", "note": "..."}   a ttl check report (`beacon check`)
//   PUT /v1/maintenance    {"service": "web", "reason": "..."}    maintenance on (reason) or off (null)
//   GET /v1/maintenance                                            what is in maintenance now
// The one server of this protocol: `beacon check`, `beacon maint` and apps reach it through its one
// client, src/client/agent-api.ts. It outlives config reloads (the checks behind it are rebuilt; the
// socket stays). Local only by construction: the socket's file mode, or a loopback address checked by
// the config; browsers, DNS rebinding and (with `api.token`) callers without the token are refused
// first (src/util/api-guard.ts).
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { readApiToken, type ApiAddress, type ApiConfig } from '../config/api.js';
import { BeaconError } from '../errors.js';
import { UnknownCheckError } from '../checks/ttl.js';
import { OUTPUT_CAP_BYTES } from '../util/output.js';
import type { HealthStatus } from '../types.js';
import { afterBody, refuseContentType, refuseEarly, type GuardPolicy, type Refusal } from '../util/api-guard.js';

/** What is in maintenance: the whole node (a reason, or null) and single services (name → reason). */
export interface MaintenanceState {
  node: string | null;
  services: Record<string, string>;
}

/** Thrown by a handler for a service the agent does not offer. */
export class UnknownServiceError extends BeaconError {
  constructor(readonly service: string) {
    super(`no service named ${JSON.stringify(service)} in the agent's config`);
  }
}

/** What the API does; implemented by the agent. */
export interface AgentApiHandler {
  /** Record a ttl check report; throws UnknownCheckError for an id that is not a ttl check. */
  reportCheck(id: string, status: HealthStatus, note: string): void;
  /** Maintenance on (`reason`) or off (null) for one service or the node; throws UnknownServiceError. `note` is logged. */
  setMaintenance(service: string | undefined, reason: string | null, note?: string): MaintenanceState;
  maintenance(): MaintenanceState;
}

/** Longest maintenance reason kept (it is shown in every affected endpoint's output). */
export const MAX_REASON_CHARS = 512;

/** Largest request body accepted. */
const MAX_BODY_BYTES = 16 * 1024;

/** The words accepted for a status: Consul's and the CLI's verbs. */
const STATUS_WORDS: Readonly<Record<string, HealthStatus>> = {
  passing: 'passing',
  pass: 'passing',
  warning: 'warning',
  warn: 'warning',
  critical: 'critical',
  fail: 'critical',
};

/** Parse a status word (`pass`, `warning`, `fail`, ...) or return undefined: a report's `status`, `beacon check`'s verb. */
export function parseStatusWord(word: string): HealthStatus | undefined {
  return Object.hasOwn(STATUS_WORDS, word) ? STATUS_WORDS[word] : undefined;
}

/** Serves the local API until its signal aborts. */
export class AgentApi {
  private readonly server: http.Server;
  private readonly log: Logger;
  private boundPort: number | undefined;
  private policy: GuardPolicy;
  /** When the last refusal was logged at warn (the others go to debug: a web page can send thousands). */
  private lastRefusalWarn = 0;

  constructor(
    private readonly address: ApiConfig,
    private readonly handler: AgentApiHandler,
    log: Logger,
  ) {
    this.log = log.child({ component: 'api' });
    this.policy = { tcp: !('socketPath' in address) };
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'local API request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal error"}\n');
      });
    });
    this.server.headersTimeout = 5_000;
    this.server.requestTimeout = 10_000;
  }

  /** The bound port (loopback mode), once listening. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Start listening; rejects when the socket is in use by a live agent or cannot be created. */
  async listen(): Promise<void> {
    const a = this.address;
    const token = await readApiToken(a);
    this.policy = { tcp: !('socketPath' in a), ...(token !== undefined ? { token } : {}) };
    if ('socketPath' in a) {
      // /run/beacon exists under systemd (RuntimeDirectory=); create it when run by hand.
      await mkdir(dirname(a.socketPath), { recursive: true, mode: 0o755 });
      await removeStaleSocket(a.socketPath);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        resolve();
      };
      if ('socketPath' in a) this.server.listen(a.socketPath, done);
      else this.server.listen(a.port, a.host, done);
    });
    this.server.on('error', (err) => this.log.error({ err }, 'local API server error'));
    if ('socketPath' in a) {
      await chmod(a.socketPath, a.mode);
      this.log.info({ socketPath: a.socketPath, mode: a.mode.toString(8) }, 'local API listening');
    } else {
      const bound = this.server.address();
      this.boundPort = typeof bound === 'object' && bound ? bound.port : undefined;
      this.log.info({ host: a.host, port: this.boundPort, token: token !== undefined }, 'local API listening');
      if (token === undefined) this.log.warn({ host: a.host, port: this.boundPort }, 'local API on a loopback port without a token: every local user can use it');
    }
  }

  /** Serve until `signal` aborts, then close every connection and remove the socket file. */
  async run(signal: AbortSignal): Promise<void> {
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if ('socketPath' in this.address) await unlink(this.address.socketPath).catch(() => undefined);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const refuse = (r: Refusal) => {
      this.noteRefusal(req, r);
      afterBody(req, () => {
        res.writeHead(r.code, { 'content-type': 'application/json', ...r.headers });
        res.end(`${JSON.stringify({ error: r.error })}\n`);
      });
    };
    const early = refuseEarly(req, this.policy);
    if (early) return refuse(early);
    const path = (req.url ?? '').split('?')[0]!;
    const check = /^\/v1\/check\/([^/]+)$/.exec(path);
    const method = req.method ?? 'GET';
    if (!check && path !== '/v1/maintenance') return reply(404, { error: 'not found: use PUT /v1/check/<id> or /v1/maintenance' });
    if (path === '/v1/maintenance' && method === 'GET') return reply(200, this.handler.maintenance());
    if (method !== 'PUT' && method !== 'POST') {
      res.setHeader('allow', check ? 'PUT, POST' : 'GET, PUT, POST');
      return reply(405, { error: 'method not allowed' });
    }
    const badType = refuseContentType(req, this.policy);
    if (badType) return refuse(badType);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError('not an object');
      body = parsed as Record<string, unknown>;
    } catch (err) {
      if (err instanceof BodyTooLarge) return reply(413, { error: err.message });
      return reply(400, { error: 'body must be a JSON object' });
    }
    if (check) {
      let id: string;
      try {
        id = decodeURIComponent(check[1]!);
      } catch {
        return reply(400, { error: 'bad check id encoding' });
      }
      const status = typeof body.status === 'string' ? parseStatusWord(body.status) : undefined;
      if (!status) return reply(400, { error: 'status must be one of passing, warning, critical (or pass, warn, fail)' });
      if (body.note !== undefined && typeof body.note !== 'string') return reply(400, { error: 'note must be a string' });
      try {
        this.handler.reportCheck(id, status, (body.note ?? '').slice(0, OUTPUT_CAP_BYTES * 2));
      } catch (err) {
        if (err instanceof UnknownCheckError) return reply(404, { error: err.message });
        throw err;
      }
      this.log.debug({ check: id, status }, 'check report');
      return reply(200, { id, status });
    }
    const { service, reason, note } = body;
    if (service !== undefined && (typeof service !== 'string' || service === '')) return reply(400, { error: 'service must be a service name' });
    if (reason !== null && (typeof reason !== 'string' || reason.trim() === '' || reason.length > MAX_REASON_CHARS)) {
      return reply(400, { error: `reason must be a non-empty string of at most ${MAX_REASON_CHARS} characters, or null to end maintenance` });
    }
    try {
      return reply(200, this.handler.setMaintenance(service, reason, typeof note === 'string' ? note.slice(0, MAX_REASON_CHARS) : undefined));
    } catch (err) {
      if (err instanceof UnknownServiceError) return reply(404, { error: err.message });
      throw err;
    }
  }

  // Refusals are logged (a browser's attempt is worth knowing about), at most one every 10 s at warn.
  private noteRefusal(req: http.IncomingMessage, r: Refusal): void {
    const fields = {
      code: r.code,
      method: req.method,
      // Header values are the caller's: under their own keys, capped.
      origin: req.headers.origin?.slice(0, 200),
      host: req.headers.host?.slice(0, 200),
    };
    if (Date.now() - this.lastRefusalWarn < 10_000) return this.log.debug(fields, 'local API request refused');
    this.lastRefusalWarn = Date.now();
    this.log.warn(fields, 'local API request refused');
  }
}

/** A request body over the limit (readBody). */
class BodyTooLarge extends Error {}

/** Read a bounded body; past the limit the rest is drained and discarded so the reply still gets through. */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () =>
      size > MAX_BODY_BYTES ? reject(new BodyTooLarge(`body larger than ${MAX_BODY_BYTES} bytes`)) : resolve(Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

/** Remove a socket file left by a crashed agent (it blocks listen()); one that still answers belongs to a live agent. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new BeaconError(`local API socket path ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new BeaconError(`local API socket ${path} is in use (is another agent running?)`);
  await unlink(path);
}
