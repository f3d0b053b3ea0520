// `GET /v1/explain?node=NAME`: `beacon explain node NAME` (src/explain/explain.ts) as JSON, for the status
// page's node view. Unlike the rest of the page it reads etcd (the node's keys, the services, statuses,
// events and reactions), so it is asked for on demand only, never streamed: one explanation per node is
// shared by every request within CACHE_MS, and at most MAX_IN_FLIGHT are computed at once.
import { isValidName, type Keys } from '../etcd/keys.js';
import { explainNode, type ExplainStore, type Explanation } from '../explain/explain.js';
import { json, type Reply, type Route } from '../metrics/http.js';

const CACHE_MS = 2_000;
const MAX_IN_FLIGHT = 4;
const MAX_CACHED = 256;

/** The explain route over `store`. */
export function explainRoute(store: ExplainStore, keys: Keys, headers: Readonly<Record<string, string>>): Route {
  const cache = new Map<string, { at: number; result: Promise<Explanation | undefined> }>();
  let inFlight = 0;
  return async (url): Promise<Reply> => {
    const names = url.searchParams.getAll('node');
    const extra = [...url.searchParams.keys()].filter((k) => k !== 'node');
    if (names.length !== 1 || extra.length > 0) return { ...json(400, { error: 'use ?node=NAME (one node)' }), headers };
    const name = names[0]!;
    if (!isValidName(name)) return { ...json(400, { error: 'node=NAME is not a valid node name' }), headers };
    const now = Date.now();
    let hit = cache.get(name);
    if (!hit || now - hit.at > CACHE_MS) {
      if (inFlight >= MAX_IN_FLIGHT) return { ...json(503, { error: 'too many explanations being computed: try again' }), headers: { ...headers, 'retry-after': '1' } };
      inFlight++;
      const result = explainNode(store, keys, name, new Date(now)).finally(() => inFlight--);
      hit = { at: now, result };
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(name, hit);
      // A failure is not cached: the next request tries again.
      result.catch(() => cache.get(name) === hit && cache.delete(name));
    }
    let x: Explanation | undefined;
    try {
      x = await hit.result;
    } catch {
      return { ...json(503, { error: 'etcd did not answer' }), headers };
    }
    if (!x) return { ...json(404, { error: 'no such node: nothing in etcd mentions it' }), headers };
    return { ...json(200, x), headers };
  };
}
