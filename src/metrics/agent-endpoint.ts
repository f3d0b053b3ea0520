// The agent's observability endpoint (`metrics.listen`): `/metrics` in Prometheus' text format and
// `/healthz` (200 while registered, 503 otherwise), both answered from memory, never from etcd.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../util/listen.js';
import { HttpEndpoint, json } from './http.js';

/** What `/healthz` reports. */
export interface AgentHealth {
  node: string;
  registered: boolean;
  lease: string | undefined;
}

/** The agent's HTTP endpoint serving `registry` and `health()`. */
export function agentEndpoint(listen: ListenAddress, registry: Registry, health: () => AgentHealth, log: Logger): HttpEndpoint {
  return new HttpEndpoint(
    listen,
    {
      '/metrics': async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
      '/healthz': () => {
        const h = health();
        return json(h.registered ? 200 : 503, { status: h.registered ? 'registered' : 'unregistered', node: h.node, lease: h.lease ?? null });
      },
    },
    log.child({ component: 'metrics' }),
  );
}
