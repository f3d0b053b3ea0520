// The HTTP listen settings: the agent's `metrics` section and the watcher's `http` section (plus the
// watcher's `--listen` flag). Both take `HOST:PORT`; off unless set, since they open a port.
import { ConfigError } from '../errors.js';
import { Fields, Problems, type Reader } from '../util/fields.js';
import type { ParseContext } from './sections.js';
import type { ListenAddress } from '../util/listen.js';

/** The agent's `metrics` section: where `/metrics` and `/healthz` are served. */
export interface MetricsConfig {
  listen: ListenAddress;
}

/** The watcher's `http` section: where `/healthz`, `/metrics` and `/http_sd` are served. */
export interface HttpConfig {
  listen: ListenAddress;
}

const LISTEN_HINT = 'must be HOST:PORT, such as 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464';

/** `HOST:PORT` (IPv6 hosts in brackets), port 0–65535. */
export const readListen: Reader<ListenAddress> = (p, field, value) => {
  const m = typeof value === 'string' ? /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value) : null;
  if (!m || Number(m[3]) > 65535) return p.add(field, value, LISTEN_HINT);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
};

/** Parse one `HOST:PORT` given outside a file (a flag); throws a ConfigError naming `field`. */
export function parseListen(field: string, value: string): ListenAddress {
  const problems = new Problems();
  const out = readListen(problems, field, value, undefined);
  problems.throwIfAny();
  if (!out) throw new ConfigError(field, value, LISTEN_HINT);
  return out;
}

// `{listen: HOST:PORT}`; null when the section is absent (a present section must say where).
function listenSection(name: string, raw: unknown, ctx: ParseContext): { listen: ListenAddress } | null {
  if (raw === undefined || raw === null) return null;
  const f = new Fields(name, raw, ctx.problems);
  const listen = f.required('listen', readListen, undefined);
  f.done();
  return listen ? { listen } : null;
}

/** The agent's `metrics` section: `{listen: HOST:PORT}`; null (no metrics server) when absent. */
export function parseMetrics(raw: unknown, ctx: ParseContext): MetricsConfig | null {
  return listenSection('metrics', raw, ctx);
}

/** The watcher's `http` section: `{listen: HOST:PORT}`; null (no HTTP server) when absent. */
export function parseHttp(raw: unknown, ctx: ParseContext): HttpConfig | null {
  return listenSection('http', raw, ctx);
}
