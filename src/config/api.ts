// The `api` section: where the agent's local API listens (`beacon check`, `beacon maint`, apps
// reporting ttl checks). Local only by construction: a unix socket (default), or a loopback port.
import { Fields } from './fields.js';
import type { ParseContext } from './sections.js';

/** Where the local API listens: a unix socket with its file mode, or a loopback host and port. */
export type ApiConfig = { socketPath: string; mode: number } | { host: string; port: number };

/** The socket the agent listens on and `beacon check`/`beacon maint` talk to by default. */
export const DEFAULT_API_SOCKET = '/run/beacon/agent.sock';
/** Owner and group may report; others may not (a check report changes what etcd says about the node). */
export const DEFAULT_API_SOCKET_MODE = 0o660;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

/** The `api` section: `{enabled, socket, socketMode}` or `{listen: 127.0.0.1:PORT}`. */
export function parseApi(raw: unknown, ctx: ParseContext): ApiConfig | null {
  const f = new Fields('api', raw, ctx.problems);
  const enabled = f.read('enabled', (p, field, v) => (typeof v === 'boolean' ? v : p.add(field, v, 'must be true or false')), undefined) ?? true;
  const socket = f.string('socket', (s) => {
    if (!s.startsWith('/')) return 'must be an absolute path';
    if (Buffer.byteLength(s) > MAX_SOCKET_PATH) return `must be at most ${MAX_SOCKET_PATH} bytes (a unix socket path limit)`;
    return undefined;
  });
  const mode = f.read(
    'socketMode',
    (p, field, v) => {
      // YAML 1.2 reads 0660 as decimal 660: take the mode as a string of octal digits, as chmod does.
      if (typeof v === 'string' && /^0?[0-7]{3}$/.test(v)) return parseInt(v, 8);
      return p.add(field, v, 'must be an octal file mode in quotes, such as "0660"');
    },
    undefined,
  );
  const listen = f.read(
    'listen',
    (p, field, v) => {
      const m = typeof v === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v) : null;
      const host = m ? (m[1] ?? m[2])! : '';
      if (!m || !LOOPBACK_HOSTS.has(host) || Number(m[3]) > 65535) {
        return p.add(field, v, 'must be a loopback address and port, such as 127.0.0.1:7070 (the API is local only)');
      }
      return { host, port: Number(m[3]) };
    },
    undefined,
  );
  f.done();
  if (listen && (f.has('socket') || f.has('socketMode'))) f.fail('listen', 'listen and socket are alternatives: set one of api.listen, api.socket');
  if (!enabled) return null;
  if (listen) return listen;
  return { socketPath: socket ?? DEFAULT_API_SOCKET, mode: mode ?? DEFAULT_API_SOCKET_MODE };
}
