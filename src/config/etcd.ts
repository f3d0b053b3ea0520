// Where beacon's data lives: the etcd connection and the key prefix. Shared by the agent, the watcher and the CLI.
// Precedence of how to reach etcd (endpoints, CA, client certificate and key, user) follows etcdctl users'
// expectation, flag > environment > file: an exported ETCDCTL_ENDPOINTS or ETCDCTL_CACERT wins over the
// example's settings (README's `beacon agent --config examples/agent.yaml`), and a systemd drop-in's
// Environment= wins over the file it ships with. beacon's own variables win over etcdctl's (a unit's over
// a shell's). Other settings: flag > BEACON_* env > file > default.
import { resolve } from 'node:path';
import type { EtcdConfig } from '../etcd/options.js';
import { DEFAULT_PREFIX, normalizePrefix } from '../etcd/keys.js';
import { Fields, readString, text, type Problems } from '../util/fields.js';
import { envValue, type ParseContext } from './sections.js';

/** Used when neither flags, environment nor file name an endpoint (etcdctl's own default). */
export const DEFAULT_ENDPOINTS: readonly string[] = ['http://127.0.0.1:2379'];

// etcdctl accepts `host:port` without a scheme and means http://: so does beacon.
const ENDPOINT = /^(?:(https?):\/\/)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})\/?$/;

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
      out.push(`${m[1] ?? 'http'}://${m[2]}:${m[3]}`);
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

  // Each source in precedence order: the first that sets a value (or either half of a pair) is taken whole.
  const caFile =
    overrides.cacert ?? env('BEACON_ETCD_CACERT') ?? env('ETCDCTL_CACERT') ?? (f.has('caFile') ? file.caFile : undefined);

  // Certificate and key, user and password travel in pairs, each pair from one source.
  const pairSources: PairSource[] = [
    { cert: ['--cert', overrides.cert], key: ['--key', overrides.key] },
    { cert: ['$BEACON_ETCD_CERT', env('BEACON_ETCD_CERT')], key: ['$BEACON_ETCD_KEY', env('BEACON_ETCD_KEY')] },
    { cert: ['$ETCDCTL_CERT', env('ETCDCTL_CERT')], key: ['$ETCDCTL_KEY', env('ETCDCTL_KEY')] },
  ];
  let certFile: string | undefined;
  let keyFile: string | undefined;
  const pair = pairSources.find((s) => s.cert[1] !== undefined || s.key[1] !== undefined);
  if (pair) {
    [certFile, keyFile] = [pair.cert[1], pair.key[1]];
    if ((certFile === undefined) !== (keyFile === undefined)) {
      const [set, unset] = certFile !== undefined ? [pair.cert, pair.key] : [pair.key, pair.cert];
      p.add(set[0], set[1], `needs ${unset[0]} too: a client certificate and its key come together`);
    }
  } else if (f.has('certFile') || f.has('keyFile')) {
    [certFile, keyFile] = [file.certFile, file.keyFile];
    if (f.has('certFile') !== f.has('keyFile')) {
      const [set, unset] = f.has('certFile') ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
      f.fail(set, `needs etcd.${unset} too: a client certificate and its key come together`);
    }
  }

  let username: string | undefined;
  let password: string | undefined;
  const user =
    (overrides.user !== undefined ? { at: '--user', value: overrides.user, passwordEnv: ['BEACON_ETCD_PASSWORD', 'ETCDCTL_PASSWORD'] } : undefined) ??
    userVar(ctx, 'BEACON_ETCD_USER', 'BEACON_ETCD_PASSWORD') ??
    userVar(ctx, 'ETCDCTL_USER', 'ETCDCTL_PASSWORD');
  if (user) {
    [username, password] = splitUser(ctx, user);
  } else if (f.has('username') || f.has('password')) {
    [username, password] = [file.username, file.password];
    if (f.has('username') !== f.has('password')) {
      const [set, unset] = f.has('username') ? ['username', 'password'] : ['password', 'username'];
      f.fail(set, `needs etcd.${unset} too: etcd authentication takes both`);
    }
  }

  const out: EtcdConfig = { endpoints, requestTimeoutMs, dialTimeoutMs };
  if (caFile !== undefined) out.caFile = caFile;
  if (certFile !== undefined) out.certFile = certFile;
  if (keyFile !== undefined) out.keyFile = keyFile;
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  return out;
}

/** One source of the certificate/key pair: each half's name (for messages) and value. */
interface PairSource {
  cert: [string, string | undefined];
  key: [string, string | undefined];
}

/** A user given as etcdctl takes it: "user:password", or "user" with the password in one of `passwordEnv`. */
interface UserSource {
  at: string;
  value: string;
  passwordEnv: string[];
}

function userVar(ctx: ParseContext, name: string, passwordVar: string): UserSource | undefined {
  const value = envValue(ctx, name);
  return value === undefined ? undefined : { at: `$${name}`, value, passwordEnv: [passwordVar] };
}

function splitUser(ctx: ParseContext, { at, value, passwordEnv }: UserSource): [string | undefined, string | undefined] {
  const colon = value.indexOf(':');
  const fromEnv = () => passwordEnv.map((v) => envValue(ctx, v)).find((v) => v !== undefined);
  const [name, password] = colon < 0 ? [value, fromEnv()] : [value.slice(0, colon), value.slice(colon + 1)];
  const shown = colon < 0 ? value : `${name}:***`;
  if (name === '') return [ctx.problems.add(at, shown, 'must start with a user name'), undefined];
  if (!password) {
    ctx.problems.add(at, shown, `has no password: use "user:password" or set ${passwordEnv.map((v) => `$${v}`).join(' or ')}`);
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
