// Templates for `beacon render`: handlebars, no HTML escaping (config files are not HTML), strict mode so a
// misspelt field fails the render (and the old file stays) instead of silently rendering nothing.
// docs/consumers.md ("Rendering") documents the context and the helpers.
import Handlebars from 'handlebars';
import { isIP } from 'node:net';
import { isValidName, type Keys } from '../etcd/keys.js';
import type { KeyValue } from '../etcd/store.js';
import { buildSnapshot, nodeViews, type NodeView } from '../registry/reader.js';
import type { EndpointRecord } from '../types.js';

/** One node as a template sees it: the node view without the raw live record. */
export type TemplateNode = Omit<NodeView, 'live'>;

/** What a template is rendered with. */
export interface TemplateContext {
  /** Service name → its endpoints (every health), sorted by node; any valid name not registered is [] (with a filter: any followed name). */
  services: Record<string, EndpointRecord[]>;
  /** Service name → its passing endpoints only; unregistered names as in `services`. */
  passing: Record<string, EndpointRecord[]>;
  /** Every known node (up, leaving, left, failed), sorted by name. */
  nodes: TemplateNode[];
}

/** A compiled template: context in, text out (throws an Error naming the file on a missing field or a failing helper). */
export type RenderTemplate = (ctx: TemplateContext) => string;

/** The template could not be parsed. */
export class TemplateError extends Error {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'TemplateError';
  }
}

/** Where helpers read the environment (a seam for tests). */
export interface TemplateOptions {
  env?: NodeJS.ProcessEnv;
}

/** What `token` lets through: letters, digits and `. _ - : / @ + = ,`, nothing a config syntax gives a meaning. */
const TOKEN_RE = /^[A-Za-z0-9._:/@+=,-]{1,253}$/;

// A value about to be placed into a config file, shown in a render error: short and escaped, never raw.
function shown(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return (s.length > 60 ? `${s.slice(0, 57)}...` : s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// An IPv4 or IPv6 address as the schema allows it: what net.isIP takes, without an IPv6 zone (`%eth0`).
function ipVersion(v: unknown): 0 | 4 | 6 {
  return typeof v === 'string' && !v.includes('%') ? (isIP(v) as 0 | 4 | 6) : 0;
}

// Helpers: few, and each one total (no helper that can reach outside the context except `env`). The
// checking ones (`hostport`, `ip`, `token`) are the template's own defence: records reach the context
// validated by the registry's codec, but a value that would change the config's structure fails the render
// (and the old file stays) rather than being written, whatever let it through.
function helpers(env: NodeJS.ProcessEnv): Record<string, Handlebars.HelperDelegate> {
  return {
    /** `{{join list ", "}}`: an array's items joined (default separator ","). */
    join(list: unknown, ...rest: unknown[]) {
      const sep = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : ',';
      if (!Array.isArray(list)) throw new Error('join: first argument must be a list');
      return list.map(String).join(sep);
    },
    /** `{{env "NAME" "fallback"}}`: an environment variable; without a fallback an unset one fails the render. */
    env(name: unknown, ...rest: unknown[]) {
      if (typeof name !== 'string') throw new Error('env: the name must be a string');
      const value = env[name];
      if (value !== undefined) return value;
      if (rest.length > 1) return String(rest[0]);
      throw new Error(`env: ${name} is not set and no default was given`);
    },
    /** `{{#if (eq a b)}}`: strict equality, for branching on health, status or a label. */
    eq(a: unknown, b: unknown) {
      return a === b;
    },
    /** `{{hostport address port}}`: `10.0.0.1:80`, `[fd00::1]:80`; anything but an IP address and a port 1-65535 fails the render. */
    hostport(address: unknown, port: unknown) {
      const version = ipVersion(address);
      if (version === 0) throw new Error(`hostport: not an IP address: ${shown(address)}`);
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`hostport: not a port: ${shown(port)}`);
      return version === 6 ? `[${String(address)}]:${port}` : `${String(address)}:${port}`;
    },
    /** `{{ip address}}`: the address itself; anything but an IPv4 or IPv6 address fails the render. */
    ip(address: unknown) {
      if (ipVersion(address) === 0) throw new Error(`ip: not an IP address: ${shown(address)}`);
      return String(address);
    },
    /** `{{token (lookup meta "weight")}}`: free text only when it is one plain token (TOKEN_RE), else the render fails. */
    token(value: unknown) {
      const s = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof s !== 'string' || !TOKEN_RE.test(s)) throw new Error(`token: not a plain token (letters, digits, . _ - : / @ + = ,): ${shown(value)}`);
      return s;
    },
  };
}

/** Parse and compile `text` (named `file` in errors); syntax errors throw TemplateError now, not at first render. */
export function compileTemplate(text: string, file: string, opts: TemplateOptions = {}): RenderTemplate {
  const hb = Handlebars.create();
  try {
    hb.parse(text);
  } catch (err) {
    throw new TemplateError(file, (err as Error).message, { cause: err });
  }
  hb.registerHelper(helpers(opts.env ?? process.env));
  const compiled = hb.compile<TemplateContext>(text, { noEscape: true, strict: true });
  return (ctx) => {
    try {
      return compiled(ctx);
    } catch (err) {
      // Handlebars' own exceptions are not Error instances: give callers (and logs) a real one.
      const message = typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : String(err);
      throw new Error(`${file}: ${message}`, { cause: err });
    }
  };
}

// In strict mode a missing key throws; a service with no endpoints must read as an empty list instead, or a
// template would fail (and keep the dead backends) exactly when the last endpoint goes. Any valid service
// name is therefore "present"; iterating the map still lists only the registered services. With a filter
// (`--service`), a name outside it throws instead: it would otherwise always read as empty, and a template
// would quietly render "no backends" for a service the renderer does not follow.
function serviceMap(groups: Map<string, EndpointRecord[]>, map: string, only?: ReadonlySet<string>): Record<string, EndpointRecord[]> {
  const target = Object.fromEntries(groups) as Record<string, EndpointRecord[]>;
  const absent = (p: string | symbol): p is string => typeof p === 'string' && !(p in target) && isValidName(p);
  const empty = (p: string | symbol): p is string => absent(p) && (!only || only.has(p));
  return new Proxy(target, {
    has: (t, p) => p in t || absent(p),
    get: (t, p, r) => {
      if (empty(p)) return [];
      if (absent(p)) throw new Error(`${map}.${p}: not a followed service (only ${[...only!].join(', ')})`);
      return Reflect.get(t, p, r);
    },
    getOwnPropertyDescriptor: (t, p) =>
      empty(p) ? { value: [], writable: false, enumerable: false, configurable: true } : Reflect.getOwnPropertyDescriptor(t, p),
  });
}

/**
 * Build the template context from raw registry key-values (nodes and services prefixes). With `services`,
 * only those services' endpoints are in it (and in each node's `services`), and naming another one throws.
 */
export function buildContext(keys: Keys, kvs: Iterable<KeyValue>, services?: readonly string[]): TemplateContext {
  const only = services ? new Set(services) : undefined;
  const snap = buildSnapshot(keys, [...kvs]);
  if (only) snap.endpoints = snap.endpoints.filter((ep) => only.has(ep.service));
  const all = new Map<string, EndpointRecord[]>();
  const passing = new Map<string, EndpointRecord[]>();
  for (const ep of snap.endpoints) {
    all.set(ep.service, [...(all.get(ep.service) ?? []), ep]);
    if (!passing.has(ep.service)) passing.set(ep.service, []);
    if (ep.health === 'passing') passing.get(ep.service)!.push(ep);
  }
  const nodes = nodeViews(snap).map(({ live: _live, ...rest }) => rest);
  return { services: serviceMap(all, 'services', only), passing: serviceMap(passing, 'passing', only), nodes };
}
