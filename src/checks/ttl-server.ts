// `PUT /v1/check/<id>` for one TtlBoard alone (HealthChecks' `api` option), over a unix socket or a
// loopback port. The agent serves the same route from its local API (src/agent/api.ts), which also uses
// the helpers below; src/client/agent-api.ts is the one client of both.
import { chmod, lstat, unlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import { BeaconError } from '../errors.js';
import type { HealthStatus } from '../types.js';
import { OUTPUT_CAP_BYTES } from '../util/output.js';
import { UnknownCheckError, type TtlBoard } from './ttl.js';
import { afterBody, refuseContentType, refuseEarly } from '../util/api-guard.js';

/** Where the check API listens: a unix socket path, or a loopback host and port (0 picks one). */
export type CheckApiAddress = { socketPath: string; mode?: number } | { host: string; port: number };

/** Largest request body accepted. */
const MAX_BODY_BYTES = 16 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The words accepted for a status: Consul's and the CLI's verbs. */
const STATUS_WORDS: Readonly<Record<string, HealthStatus>> = {
  passing: 'passing',
  pass: 'passing',
  warning: 'warning',
  warn: 'warning',
  critical: 'critical',
  fail: 'critical',
};

/** Parse a status word (`pass`, `warning`, `fail`, ...) or return undefined. */
export function parseStatusWord(word: string): HealthStatus | undefined {
  return Object.hasOwn(STATUS_WORDS, word) ? STATUS_WORDS[word] : undefined;
}

/** Serves the local check API for a TtlBoard until its signal aborts. */
export class TtlServer {
  private readonly server: http.Server;
  private readonly log: Logger;
  private boundPort: number | undefined;
  private listening: Promise<void> | undefined;

  constructor(
    private readonly board: TtlBoard,
    private readonly address: CheckApiAddress,
    log: Logger,
  ) {
    if ('host' in address && !LOOPBACK.has(address.host)) {
      throw new BeaconError(`check API must listen on loopback or a unix socket, not ${address.host}`);
    }
    this.log = log.child({ component: 'check-api' });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'check API request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal error"}\n');
      });
    });
    this.server.headersTimeout = 5_000;
    this.server.requestTimeout = 10_000;
  }

  /** Resolves once the server accepts connections (the port is then known for `{port: 0}`). */
  ready(): Promise<void> {
    return (this.listening ??= this.listen());
  }

  /** The bound TCP port (loopback mode), once ready. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Listen until `signal` aborts; then close connections and remove the socket file. */
  async run(signal: AbortSignal): Promise<void> {
    await this.ready();
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if ('socketPath' in this.address) await unlink(this.address.socketPath).catch(() => undefined);
  }

  private async listen(): Promise<void> {
    if ('socketPath' in this.address) await removeStaleSocket(this.address.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        resolve();
      };
      if ('socketPath' in this.address) this.server.listen(this.address.socketPath, done);
      else this.server.listen(this.address.port, this.address.host, done);
    });
    this.server.on('error', (err) => this.log.error({ err }, 'check API server error'));
    if ('socketPath' in this.address) {
      // Only root (and the socket's group, e.g. the app's) may report check status.
      await chmod(this.address.socketPath, this.address.mode ?? 0o660);
      this.log.info({ socketPath: this.address.socketPath }, 'check API listening');
    } else {
      const a = this.server.address();
      this.boundPort = typeof a === 'object' && a ? a.port : undefined;
      this.log.info({ host: this.address.host, port: this.boundPort }, 'check API listening');
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (code: number, body: Record<string, unknown>) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    // The agent API's rules against browsers and rebound hosts (src/util/api-guard.ts); no token here.
    const policy = { tcp: 'host' in this.address };
    const early = refuseEarly(req, policy);
    if (early) return afterBody(req, () => reply(early.code, { error: early.error }));
    const m = /^\/v1\/check\/([^/?#]+)$/.exec((req.url ?? '').split('?')[0]!);
    if (!m) return reply(404, { error: 'not found: use PUT /v1/check/<id>' });
    if (req.method !== 'PUT' && req.method !== 'POST') {
      res.setHeader('allow', 'PUT, POST');
      return reply(405, { error: 'method not allowed: use PUT' });
    }
    const badType = refuseContentType(req, policy);
    if (badType) return afterBody(req, () => reply(badType.code, { error: badType.error }));
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return reply(400, { error: 'bad check id encoding' });
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof BodyTooLarge) return reply(413, { error: err.message });
      return reply(400, { error: 'body must be JSON: {"status": "passing", "note": "..."}' });
    }
    const b = (typeof body === 'object' && body !== null ? body : {}) as { status?: unknown; note?: unknown };
    const status = typeof b.status === 'string' ? parseStatusWord(b.status) : undefined;
    if (!status) return reply(400, { error: 'status must be one of passing, warning, critical (or pass, warn, fail)' });
    if (b.note !== undefined && typeof b.note !== 'string') return reply(400, { error: 'note must be a string' });
    const note = (b.note ?? '').slice(0, OUTPUT_CAP_BYTES * 2);
    try {
      this.board.report(id, status, note);
    } catch (err) {
      if (err instanceof UnknownCheckError) return reply(404, { error: err.message });
      throw err;
    }
    this.log.debug({ check: id, status }, 'check report');
    return reply(200, { id, status });
  }
}

/** A request body over the limit (readBody). */
export class BodyTooLarge extends Error {}

/** Read a bounded body; past the limit the rest is drained and discarded so the reply still gets through. */
export function readBody(req: http.IncomingMessage): Promise<string> {
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
export async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new BeaconError(`check API socket path ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new BeaconError(`check API socket ${path} is in use (is another agent running?)`);
  await unlink(path);
}
