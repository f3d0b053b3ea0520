// Pushes the status snapshot to every open page over server-sent events. A change anywhere in the
// watcher's memory pokes the feed; at most every THROTTLE_MS it builds ONE snapshot, serialises it once and
// writes the same bytes to every client. Browsers never cause an etcd request: N pages cost N socket writes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { StatusSnapshot } from './status-types.js';

// A burst of watch events (a mass failure, a first listing) becomes one message, well within the 1 s the
// page promises.
const THROTTLE_MS = 200;
// State that changes without a poke (etcd stops answering: the feed only notices) is looked at this often;
// a message goes out only when something differs.
const TICK_MS = 2_000;
// A comment line keeps proxies and idle timeouts from closing a quiet stream.
const HEARTBEAT_MS = 15_000;
// A client this far behind (a stalled tab, a slow link) is dropped; EventSource reconnects and gets the
// latest snapshot, instead of the watcher buffering every one it missed.
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const HEAD = '{"schema":1,';
/** Streams served at once; more are refused with 503 (each costs a copy of every change). */
export const MAX_CLIENTS = 64;

/** Options of LiveFeed. */
export interface LiveFeedOptions {
  build: () => Omit<StatusSnapshot, 'seq' | 'generatedAt'>;
  log: Logger;
}

/** The snapshot publisher behind `/v1/status` and `/v1/status/stream`. */
export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private seq = 0;
  /** The latest snapshot's JSON (without seq/generatedAt, to tell whether anything changed) and full JSON. */
  private lastState = '';
  private lastBody = '';
  private stale = true;
  private timer: NodeJS.Timeout | undefined;
  private lastBuilt = 0;
  private readonly log: Logger;

  constructor(private readonly opts: LiveFeedOptions) {
    this.log = opts.log.child({ component: 'status-page' });
  }

  /** How many streams are open. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Something changed: publish soon (coalesced). Cheap when no page is open. */
  poke(): void {
    this.stale = true;
    if (this.clients.size === 0 || this.timer) return;
    const wait = Math.max(0, this.lastBuilt + THROTTLE_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, wait);
  }

  /** The current snapshot as JSON (built now if anything changed since the last one). */
  current(): string {
    if (this.stale) this.refresh();
    return this.lastBody;
  }

  /** Serve one event stream: the current snapshot at once, then every change, until the client goes. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= MAX_CLIENTS) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10', 'x-content-type-options': 'nosniff' });
      res.end(`${JSON.stringify({ error: `too many status streams open (${MAX_CLIENTS})` })}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx buffers responses unless told not to.
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = this.current();
    res.write(`retry: 1000\n${message(body, this.seq)}`);
    this.clients.add(res);
    this.log.debug({ clients: this.clients.size }, 'status stream opened');
    res.on('close', () => {
      this.clients.delete(res);
      this.log.debug({ clients: this.clients.size }, 'status stream closed');
    });
  }

  /** Publish changes, tick and send heartbeats until `signal` aborts; then end every stream. */
  async run(signal: AbortSignal): Promise<void> {
    const tick = setInterval(() => {
      if (this.clients.size > 0) {
        this.stale = true;
        this.publish();
      }
    }, TICK_MS);
    const beat = setInterval(() => {
      for (const res of this.clients) res.write(': keepalive\n\n');
    }, HEARTBEAT_MS);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(tick);
    clearInterval(beat);
    if (this.timer) clearTimeout(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private refresh(): boolean {
    this.stale = false;
    this.lastBuilt = Date.now();
    const state = JSON.stringify(this.opts.build());
    if (!state.startsWith(HEAD)) throw new Error('status snapshot must start with its schema');
    if (state === this.lastState && this.lastBody !== '') return false;
    this.lastState = state;
    this.seq++;
    // The state object's own JSON, with the two publisher fields spliced in after `schema` (no second stringify).
    this.lastBody = `{"schema":1,"seq":${this.seq},"generatedAt":"${new Date(this.lastBuilt).toISOString()}",${state.slice(HEAD.length)}`;
    return true;
  }

  private publish(): void {
    if (!this.refresh()) return;
    const msg = message(this.lastBody, this.seq);
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.log.info({ buffered: res.writableLength }, 'status stream too far behind: closed');
        res.destroy();
        continue;
      }
      res.write(msg);
    }
  }
}

// One SSE message: JSON has no raw newlines, so the data fits one `data:` line.
function message(json: string, seq: number): string {
  return `event: status\nid: ${seq}\ndata: ${json}\n\n`;
}
