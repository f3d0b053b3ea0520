// A tiny HTTP server for the daemons' observability endpoints (`/metrics`, `/healthz`, `/http_sd`, the
// watcher's status page): a table of GET routes, whole replies or a long-lived stream (server-sent events),
// nothing else. It lives for `run(signal)`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { formatListen, type ListenAddress } from '../util/listen.js';

/** What a route answers. */
export interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  /** Extra response headers (a page's Content-Security-Policy). */
  headers?: Readonly<Record<string, string>>;
}

/** A reply that takes over the response (a server-sent events stream); HEAD gets the headers only. */
export interface StreamReply {
  stream(req: IncomingMessage, res: ServerResponse): void;
}

/** One GET route: gets the parsed URL (query included), answers a Reply or a stream. */
export type Route = (url: URL, req: IncomingMessage) => Reply | StreamReply | Promise<Reply | StreamReply>;

/** A JSON reply (newline-terminated, so `curl` output ends cleanly). */
export function json(status: number, value: unknown): Reply {
  return { status, contentType: 'application/json', body: `${JSON.stringify(value)}\n` };
}

/** Serves a route table on one address until `run`'s signal aborts. */
export class HttpEndpoint {
  private readonly server: Server;
  private readonly log: Logger;

  constructor(
    private readonly listenOn: ListenAddress,
    private readonly routes: Readonly<Record<string, Route>>,
    log: Logger,
  ) {
    this.log = log;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Start listening; rejects when the address cannot be bound (in use, not local). */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenOn.port, this.listenOn.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    this.log.info({ listen: formatListen({ host: addr.address, port: addr.port }), paths: Object.keys(this.routes) }, 'http listening');
    return addr;
  }

  /** The bound address (after listen). */
  get address(): AddressInfo | undefined {
    const a = this.server.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  /** Serve until `signal` aborts; resolves once the server and its connections are closed. */
  async run(signal: AbortSignal): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Scrapers keep connections open between scrapes: shutdown must not wait for them.
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply | StreamReply;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = Object.hasOwn(this.routes, url.pathname) ? this.routes[url.pathname] : undefined;
      if (!route) reply = json(404, { error: `no such path: ${url.pathname}`, paths: Object.keys(this.routes) });
      else if (req.method !== 'GET' && req.method !== 'HEAD') reply = { ...json(405, { error: 'only GET is served' }), headers: { allow: 'GET, HEAD' } };
      else reply = await route(url, req);
    } catch (err) {
      this.log.error({ err, path: req.url?.slice(0, 200) }, 'http request failed');
      reply = json(500, { error: 'internal error' });
    }
    if ('stream' in reply) {
      reply.stream(req, res);
      return;
    }
    // nosniff everywhere: a JSON or text body must never be taken for a script or a page.
    res.writeHead(reply.status, { 'content-type': reply.contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...reply.headers });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  }
}
