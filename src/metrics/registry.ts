// One metrics registry per process, created by its composition root (agent or watcher) and handed to
// the parts that fill it. prom-client's global default registry is never used: no import side effects,
// and two agents in one test process do not share counters.
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Options of createRegistry. */
export interface RegistryOptions {
  /** Add prom-client's process and Node.js metrics (`process_*`, `nodejs_*`): on in the daemons, off in unit tests. */
  defaults?: boolean;
}

/**
 * prom-client's default gauges whose names end in `_total`, a suffix Prometheus keeps for counters:
 * `promtool check metrics` fails the whole page on them (exit 3), and a linting scrape pipeline with it.
 * Each is the sum of its unsuffixed per-type gauge (`nodejs_active_handles{type}`), which stays:
 * `sum(nodejs_active_handles)` gives the same number.
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** A fresh registry, with the default process metrics unless `defaults` is false. */
export function createRegistry({ defaults = true }: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (defaults) {
    collectDefaultMetrics({ register: registry });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  return registry;
}
