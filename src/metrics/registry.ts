// One metrics registry per process, created by its composition root (agent or watcher) and handed to
// the parts that fill it. prom-client's global default registry is never used: no import side effects,
// and two agents in one test process do not share counters.
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Options of createRegistry. */
export interface RegistryOptions {
  /** Add prom-client's process and Node.js metrics (`process_*`, `nodejs_*`): on in the daemons, off in unit tests. */
  defaults?: boolean;
}

/** A fresh registry, with the default process metrics unless `defaults` is false. */
export function createRegistry({ defaults = true }: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  return registry;
}

