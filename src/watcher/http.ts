// The watcher's HTTP endpoint (`--listen` / `http.listen`): `/healthz` (200 while etcd answers, with
// the watcher's role), `/metrics`, `/http_sd` for Prometheus, and the live status page at `/` with its
// JSON (`/v1/status`) and event stream (`/v1/status/stream`). Everything is answered from memory, except
// `/v1/explain?node=NAME` (a node's timeline, read from etcd on request, cached briefly).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FollowStore } from '../client/follow.js';
import type { ExplainStore } from '../explain/explain.js';
import type { ListenAddress } from '../util/listen.js';
import type { Keys } from '../etcd/keys.js';
import { HttpEndpoint, json } from '../metrics/http.js';
import { explainRoute } from './explain-route.js';
import { EndpointView, SdQueryError, parseSdQuery } from './http-sd.js';
import { LiveFeed } from './live-feed.js';
import { RecentEvents } from './recent-events.js';
import { Rejections } from './rejections.js';
import { PAGE_HEADERS, statusRoutes } from './status-page.js';
import { StatusView } from './status-view.js';
import type { Watcher } from './watcher.js';

/** Options of WatcherHttp. */
export interface WatcherHttpOptions {
  listen: ListenAddress;
  id: string;
  watcher: Pick<
    Watcher,
    'isLeader' | 'etcdAnswering' | 'nodeLabels' | 'inSync' | 'massFailureTripped' | 'nodeStates' | 'nodeRecords' | 'invalidRecords' | 'onChange'
  > &
    Partial<Pick<Watcher, 'rejections'>>;
  registry: Registry;
  /** Follows the services and events prefixes; `/v1/explain` reads a node's records on request. */
  store: FollowStore & ExplainStore;
  keys: Keys;
  log: Logger;
  probeIntervalMs?: number;
  requestTimeoutMs?: number;
}

/** The watcher's HTTP server and the endpoint view behind `/http_sd`. */
export class WatcherHttp {
  /** The endpoints `/http_sd` serves. */
  readonly view: EndpointView;
  /** The events the status page shows. */
  readonly events: RecentEvents;
  /** The status page's publisher. */
  readonly live: LiveFeed;
  private readonly endpoint: HttpEndpoint;

  constructor(private readonly opts: WatcherHttpOptions) {
    const { watcher, registry } = opts;
    this.view = new EndpointView({
      store: opts.store,
      keys: opts.keys,
      nodeLabels: (n) => watcher.nodeLabels(n),
      log: opts.log,
      ...(watcher.rejections ? { rejections: watcher.rejections } : {}),
      ...(opts.probeIntervalMs !== undefined ? { probeIntervalMs: opts.probeIntervalMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      onChange: () => this.live.poke(),
    });
    // Event keys refused by the codec are counted apart: beacon_watcher_invalid_records counts node and
    // service keys only (its documented meaning); the page shows the sum.
    const eventRejections = new Rejections(opts.log.child({ component: 'recent-events' }));
    this.events = new RecentEvents({
      store: opts.store,
      keys: opts.keys,
      log: opts.log,
      rejections: eventRejections,
      ...(opts.probeIntervalMs !== undefined ? { probeIntervalMs: opts.probeIntervalMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      onChange: () => this.live.poke(),
    });
    const status = new StatusView({
      id: opts.id,
      watcher,
      endpoints: this.view,
      events: this.events,
      invalidEvents: () => ({ current: eventRejections.invalidNow, total: eventRejections.total }),
    });
    this.live = new LiveFeed({ build: () => status.build(), log: opts.log });
    this.endpoint = new HttpEndpoint(
      opts.listen,
      {
        '/healthz': () => {
          const ok = watcher.etcdAnswering;
          return json(ok ? 200 : 503, {
            status: ok ? 'ok' : 'etcd-unreachable',
            role: watcher.isLeader ? 'leader' : 'standby',
            id: opts.id,
            sd: { synced: this.view.synced, endpoints: this.view.size },
          });
        },
        '/metrics': async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
        '/http_sd': (url) => {
          let filter;
          try {
            filter = parseSdQuery(url.searchParams);
          } catch (err) {
            if (err instanceof SdQueryError) return json(400, { error: err.message });
            throw err;
          }
          // Before the first listing an empty list would make Prometheus drop every target: refuse instead.
          if (!this.view.synced) return json(503, { error: 'endpoint view not synced with etcd yet' });
          return json(200, this.view.groups(filter));
        },
        ...statusRoutes(this.live),
        '/v1/explain': explainRoute(opts.store, opts.keys, PAGE_HEADERS),
      },
      opts.log.child({ component: 'http' }),
    );
  }

  /** Bind the address; rejects when it cannot be bound. */
  async listen(): Promise<{ address: string; port: number }> {
    return this.endpoint.listen();
  }

  /** Serve and follow the endpoints until `signal` aborts; resolves once both are released. */
  async run(signal: AbortSignal): Promise<void> {
    const unsubscribe = this.opts.watcher.onChange(() => this.live.poke());
    try {
      await Promise.all([this.endpoint.run(signal), this.view.run(signal), this.events.run(signal), this.live.run(signal)]);
    } finally {
      unsubscribe();
    }
  }
}
