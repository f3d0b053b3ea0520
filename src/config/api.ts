// The `api` section: where the agent's local API listens (`beacon check`, `beacon maint`, apps
// reporting ttl checks), and the token its callers must send. Local only by construction: a unix
// socket (default), or a loopback port. A loopback port is open to every local user and to every web
// page a local browser shows: a token (`api.token` or `api.tokenFile`) is what keeps them out.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { Fields } from '../util/fields.js';
import type { ParseContext } from './sections.js';

/** Where the local API listens: a unix socket with its file mode, or a loopback host and port. */
export type ApiAddress = { socketPath: string; mode: number } | { host: string; port: number };

/**
 * The `api` section: the address, and the bearer token callers must send (`Authorization: Bearer
 * <token>`), given inline (`token`) or as a file holding it (`tokenFile`, an absolute path; read by
 * readApiToken). Neither: no token is asked for.
 */
export type ApiConfig = ApiAddress & { token?: string; tokenFile?: string };

/** Shortest token accepted: 16 characters (`openssl rand -hex 32` makes 64). */
export const MIN_TOKEN_CHARS = 16;
const MAX_TOKEN_CHARS = 4096;

/** Why a token is unusable, or undefined: it travels in an HTTP header, so printable ASCII without spaces. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_CHARS || token.length > MAX_TOKEN_CHARS || !/^[\x21-\x7e]+$/.test(token)) {
    return `must be ${MIN_TOKEN_CHARS} to ${MAX_TOKEN_CHARS} printable ASCII characters without spaces (openssl rand -hex 32 makes one)`;
  }
  return undefined;
}

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
  const token = f.string('token', tokenProblem);
  const tokenFile = f.string('tokenFile', (s) => (s.trim() === '' ? 'must name a file' : undefined));
  f.done();
  if (listen && (f.has('socket') || f.has('socketMode'))) f.fail('listen', 'listen and socket are alternatives: set one of api.listen, api.socket');
  if (f.has('token') && f.has('tokenFile')) f.fail('tokenFile', 'token and tokenFile are alternatives: set one of api.token, api.tokenFile');
  if (!enabled) return null;
  const auth = {
    ...(token !== undefined ? { token } : {}),
    // Relative to the config file, like the etcd section's files.
    ...(tokenFile !== undefined ? { tokenFile: ctx.baseDir === undefined ? tokenFile : resolve(ctx.baseDir, tokenFile) } : {}),
  };
  if (listen) return { ...listen, ...auth };
  return { socketPath: socket ?? DEFAULT_API_SOCKET, mode: mode ?? DEFAULT_API_SOCKET_MODE, ...auth };
}

/**
 * The token callers must send: `api.token`, or the first line of `api.tokenFile`, or undefined when
 * neither is set. The file must exist, hold a usable token and grant nothing to other users (like a
 * config file holding a secret, docs/security.md); else a ConfigError naming the file, never its contents.
 */
export async function readApiToken(api: ApiConfig): Promise<string | undefined> {
  if (api.token !== undefined || api.tokenFile === undefined) return api.token;
  const file = api.tokenFile;
  let text: string;
  let mode: number;
  try {
    mode = (await stat(file)).mode & 0o777;
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError('api.tokenFile', file, `cannot read the token file (${code})`, { cause: err });
  }
  if ((mode & 0o007) !== 0) {
    const shown = `0${mode.toString(8).padStart(3, '0')}`;
    throw new ConfigError('api.tokenFile', file, `holds a secret but is open to other users (mode ${shown}): run chmod o-rwx ${file}`);
  }
  const token = text.split('\n')[0]!.trim();
  const problem = tokenProblem(token);
  if (problem) throw new ConfigError('api.tokenFile', file, `its first line ${problem}`);
  return token;
}
