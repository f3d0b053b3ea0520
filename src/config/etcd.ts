// Where beacon's data lives: the etcd connection and the key prefix. Shared by the agent, the watcher and the CLI.
// Precedence, per setting: command-line override > BEACON_* env > file > etcdctl's ETCDCTL_* env > default;
// endpoints alone follow etcdctl users' expectation, flag > environment > file: an exported
// ETCDCTL_ENDPOINTS wins over the example's 127.0.0.1 (README's `beacon agent --config examples/agent.yaml`).
import { resolve } from 'node:path';
import type { EtcdConfig } from '../types.js';
import { DEFAULT_PREFIX, normalizePrefix } from '../etcd/keys.js';
import { Fields, readString, text, type Problems } from '../util/fields.js';
import { envValue, type ParseContext } from './sections.js';

/** Used when neither flags, environment nor file name an endpoint (etcdctl's own default). */
export const DEFAULT_ENDPOINTS: readonly string[] = ['http://127.0.0.1:2379'];

const ENDPOINT = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})\/?$/;

/** Endpoints as a list of URLs or one comma-separated string (the form of --etcd and ETCDCTL_ENDPOINTS). */
export function readEndpoints(p: Problems, field: string, value: unknown): string[] | undefined {
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(items)) return p.add(field, value, 'must be a list of URLs or a comma-separated string');
  if (items.length === 0) return p.add(field, value, 'must name at least one endpoint');
  const out: string[] = [];
  for (const [i, item] of items.entries()) {
    const at = Array.isArray(value) ? `${field}[${i}]` : field;
    const m = typeof item === 'string' ? ENDPOINT.exec(item.trim()) : null;
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      p.add(at, item, 'must be an http:// or https:// URL with a host and port, e.g. http://10.0.0.1:2379');
    } else {
      out.push(item.trim().replace(/\/$/, ''));
    }
  }
  if (out.length !== items.length) return undefined;
  // One client serves all endpoints with one set of credentials: mixing schemes cannot work.
  if (new Set(out.map((u) => u.split(':')[0])).size > 1) return p.add(field, value, 'must all use the same scheme');
  return out;
}

const nonEmpty = text(4096);

// A request or dial deadline longer than this only hides an etcd that does not answer (keepalives, the
// lease deadline and the watcher's probe all work in seconds).
const MAX_ETCD_TIMEOUT_MS = 300_000;

/** The `etcd` section. */
export function parseEtcd(raw: unknown, ctx: ParseContext): EtcdConfig {
  const { problems: p, overrides } = ctx;
  const f = new Fields('etcd', raw, p);
  // Relative TLS paths in a file mean "next to this file", whatever the agent's working directory.
  const path = (key: string) => {
    const s = f.string(key, nonEmpty);
    return s === undefined || ctx.baseDir === undefined ? s : resolve(ctx.baseDir, s);
  };
  const fileEndpoints = f.read('endpoints', readEndpoints, undefined);
  const file = {
    caFile: path('caFile'),
    certFile: path('certFile'),
    keyFile: path('keyFile'),
    username: f.string('username', nonEmpty),
    password: f.string('password', nonEmpty),
  };
  const requestTimeoutMs = f.duration('requestTimeout', { min: 1, max: MAX_ETCD_TIMEOUT_MS }) ?? 2000;
  const dialTimeoutMs = f.duration('dialTimeout', { min: 1, max: MAX_ETCD_TIMEOUT_MS }) ?? 2000;
  f.done();

  const env = (name: string) => envValue(ctx, name);
  const fromEnv = (name: string) => {
    const v = env(name);
    return v === undefined ? undefined : readEndpoints(p, `$${name}`, v);
  };
  const endpoints =
    (overrides.etcd !== undefined ? readEndpoints(p, '--etcd', overrides.etcd) : undefined) ??
    fromEnv('BEACON_ETCD_ENDPOINTS') ??
    fromEnv('ETCDCTL_ENDPOINTS') ??
    fileEndpoints ??
    [...DEFAULT_ENDPOINTS];

  const caFile = f.has('caFile') ? file.caFile : env('ETCDCTL_CACERT');

  // Certificate and key, user and password travel in pairs: the file's pair if it sets either half, else etcdctl's.
  let certFile: string | undefined;
  let keyFile: string | undefined;
  if (f.has('certFile') || f.has('keyFile')) {
    [certFile, keyFile] = [file.certFile, file.keyFile];
    if (f.has('certFile') !== f.has('keyFile')) {
      const [set, unset] = f.has('certFile') ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
      f.fail(set, `needs etcd.${unset} too: a client certificate and its key come together`);
    }
  } else {
    [certFile, keyFile] = [env('ETCDCTL_CERT'), env('ETCDCTL_KEY')];
    if ((certFile === undefined) !== (keyFile === undefined)) {
      const [set, unset] = certFile !== undefined ? ['ETCDCTL_CERT', 'ETCDCTL_KEY'] : ['ETCDCTL_KEY', 'ETCDCTL_CERT'];
      p.add(`$${set}`, env(set), `needs $${unset} too: a client certificate and its key come together`);
    }
  }

  let username: string | undefined;
  let password: string | undefined;
  if (f.has('username') || f.has('password')) {
    [username, password] = [file.username, file.password];
    if (f.has('username') !== f.has('password')) {
      const [set, unset] = f.has('username') ? ['username', 'password'] : ['password', 'username'];
      f.fail(set, `needs etcd.${unset} too: etcd authentication takes both`);
    }
  } else {
    [username, password] = userFromEnv(ctx);
  }

  const out: EtcdConfig = { endpoints, requestTimeoutMs, dialTimeoutMs };
  if (caFile !== undefined) out.caFile = caFile;
  if (certFile !== undefined) out.certFile = certFile;
  if (keyFile !== undefined) out.keyFile = keyFile;
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  return out;
}

// etcdctl's ETCDCTL_USER is "user:password", or "user" with the password in ETCDCTL_PASSWORD.
function userFromEnv(ctx: ParseContext): [string | undefined, string | undefined] {
  const user = envValue(ctx, 'ETCDCTL_USER');
  if (user === undefined) return [undefined, undefined];
  const colon = user.indexOf(':');
  const [name, password] = colon < 0 ? [user, envValue(ctx, 'ETCDCTL_PASSWORD')] : [user.slice(0, colon), user.slice(colon + 1)];
  const shown = colon < 0 ? user : `${name}:***`;
  if (name === '') return [ctx.problems.add('$ETCDCTL_USER', shown, 'must start with a user name'), undefined];
  if (!password) {
    ctx.problems.add('$ETCDCTL_USER', shown, 'has no password: use "user:password" or set $ETCDCTL_PASSWORD');
    return [undefined, undefined];
  }
  return [name, password];
}

/** The `prefix` value: --prefix > $BEACON_PREFIX > file > /beacon, normalised (leading slash, no trailing one). */
export function parsePrefix(raw: unknown, ctx: ParseContext): string {
  const p = ctx.problems;
  const fromFile = raw === undefined ? undefined : readString(p, 'prefix', raw, prefixProblem);
  const env = envValue(ctx, 'BEACON_PREFIX');
  const chosen =
    (ctx.overrides.prefix !== undefined ? readString(p, '--prefix', ctx.overrides.prefix, prefixProblem) : undefined) ??
    (env !== undefined ? readString(p, '$BEACON_PREFIX', env, prefixProblem) : undefined) ??
    fromFile ??
    DEFAULT_PREFIX;
  return normalizePrefix(chosen);
}

function prefixProblem(s: string): string | undefined {
  if (/[\s\u0000-\u001f\u007f]/.test(s)) return 'must not contain spaces or control characters';
  const segments = normalizePrefix(s).split('/').slice(1);
  if (segments.some((x) => x === '' || x === '.' || x === '..')) return 'must not contain empty, "." or ".." segments';
  return undefined;
}
