// Choosing the address other nodes use to reach this one.
//
// Sources are tried in `cfg.order`; the first that yields an address wins, and `loopback` is the
// last resort whether or not it is listed. Each source is one small function in `sources`; a
// source that has nothing says why (logged at warn when the operator configured it, at debug
// otherwise), and one that throws anyway is treated the same way, so one broken source never
// hides the next. Only an abort stops the walk. No I/O happens at import.
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import type { AddressSource } from '../types.js';
import { isNotFound, readEnvFile } from './env-file.js';

/** How the node's address is chosen; `order` lists the sources tried, first wins. */
export interface AddressConfig {
  /** Explicit address (source `config`). */
  address?: string;
  /** Interface name to take the first address from (source `interface`). */
  interface?: string;
  /** CIDR to pick the first matching local address from (source `cidr`). */
  cidr?: string;
  /** Environment files and keys to read (source `env-file`), tried in order. */
  envFiles: EnvFileKey[];
  /** Sources in the order tried. Default: config, interface, cidr, env-file, etcd-route, default-route. */
  order: AddressSource[];
}

/** A variable to read from an environment file; `key` may hold `*` globs, compiled into `pattern`. */
export interface EnvFileKey {
  path: string;
  key: string;
  /** `key` compiled: `*` matches any run of letters, digits and `_`; the first matching line with an IP wins. */
  pattern: RegExp;
}

/** Kernel route tables read by the `default-route` source (overridable for tests). */
export interface RoutePaths {
  route: string;
  ipv6Route: string;
}

/** The standard locations of the kernel's route tables. */
export const DEFAULT_ROUTE_PATHS: RoutePaths = { route: '/proc/net/route', ipv6Route: '/proc/net/ipv6_route' };

/** How long resolving the etcd endpoint's host name may take before `etcd-route` gives up. */
export const LOOKUP_TIMEOUT_MS = 2000;

/** Inputs of selectAddress besides the address config. */
export interface SelectAddressOptions {
  /** The configured etcd endpoints; `etcd-route` uses the first. */
  etcdEndpoints: string[];
  log: Logger;
  /** Aborting stops the selection with the signal's reason (shutdown, not an error). */
  signal?: AbortSignal;
  routePaths?: Partial<RoutePaths>;
}

/** The chosen address, where it came from, and every usable address of the host. */
export interface SelectedAddress {
  address: string;
  source: AddressSource;
  /** All non-internal IPv4/IPv6 addresses of the host, IPv6 link-local excluded (unusable without a zone). */
  addresses: string[];
}

/** What one source found: an address (and where exactly, for the log), or why it found none. */
export type SourceOutcome = { address: string; via: string } | { skip: string };

/** What a source gets besides the address config. */
export interface SourceContext {
  etcdEndpoints: string[];
  signal?: AbortSignal;
  routePaths: RoutePaths;
}

/** One address source. */
export type AddressSourceFn = (cfg: AddressConfig, ctx: SourceContext) => Promise<SourceOutcome>;

// The registry literal; `satisfies` makes the compiler insist on exactly one function per source.
const registry = {
  config: async (cfg) => (cfg.address ? { address: cfg.address, via: 'address' } : { skip: 'not set' }),

  interface: async (cfg) => {
    if (!cfg.interface) return { skip: 'not set' };
    const infos = os.networkInterfaces()[cfg.interface];
    if (!infos) return { skip: `no interface named ${cfg.interface}` };
    const address = pickAddress(infos);
    return address ? { address, via: cfg.interface } : { skip: `interface ${cfg.interface} has no usable address` };
  },

  cidr: async (cfg) => {
    if (!cfg.cidr) return { skip: 'not set' };
    const block = parseCidr(cfg.cidr);
    if (!block) return { skip: `${cfg.cidr} is not a CIDR` };
    for (const [name, infos] of Object.entries(os.networkInterfaces())) {
      for (const info of infos ?? []) {
        if (block.contains(info.address)) return { address: info.address, via: name };
      }
    }
    return { skip: `no local address in ${cfg.cidr}` };
  },

  'env-file': async (cfg, { signal }) => {
    if (cfg.envFiles.length === 0) return { skip: 'no files configured' };
    const notes: string[] = [];
    const cache = new Map<string, Map<string, string> | undefined>();
    for (const { path, key, pattern } of cfg.envFiles) {
      if (!cache.has(path)) {
        try {
          cache.set(path, await readEnvFile(path, signal));
        } catch (err) {
          signal?.throwIfAborted();
          cache.set(path, undefined);
          notes.push(`${path}: ${(err as Error).message}`);
          continue;
        }
        if (cache.get(path) === undefined) notes.push(`${path}: missing`);
      }
      const env = cache.get(path);
      if (!env) continue;
      // `pattern` is `key` compiled by the config loader (globs allowed); file order decides.
      const matches = [...env].filter(([name]) => pattern.test(name));
      const hit = matches.find(([, value]) => isIP(value) !== 0);
      if (hit) return { address: hit[1], via: `${path}:${hit[0]}` };
      notes.push(matches.length === 0 ? `${path}: no ${key}` : `${path}: ${key} is not an IP address`);
    }
    return { skip: notes.join('; ') };
  },

  'etcd-route': async (_cfg, { etcdEndpoints, signal }) => {
    const first = etcdEndpoints[0];
    if (!first) return { skip: 'no etcd endpoint' };
    const target = parseEndpoint(first);
    if (!target) return { skip: `cannot parse etcd endpoint ${first}` };
    let ip = target.host;
    if (isIP(ip) === 0) {
      const deadline = signal ? AbortSignal.any([signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]) : AbortSignal.timeout(LOOKUP_TIMEOUT_MS);
      try {
        ip = (await abortable(lookup(target.host), deadline)).address;
      } catch (err) {
        signal?.throwIfAborted();
        return { skip: `cannot resolve ${target.host}: ${(err as Error).message}` };
      }
    }
    try {
      const address = await localAddressTowards(ip, target.port);
      return { address, via: isIP(ip) === 6 ? `[${ip}]:${target.port}` : `${ip}:${target.port}` };
    } catch (err) {
      return { skip: `no route to ${ip}: ${(err as Error).message}` };
    }
  },

  'default-route': async (_cfg, { routePaths, signal }) => {
    const v4 = await readOptional(routePaths.route, signal);
    const iface4 = v4 === undefined ? undefined : parseDefaultRoute(v4);
    if (iface4) {
      const a = os.networkInterfaces()[iface4]?.find((i) => i.family === 'IPv4');
      if (a) return { address: a.address, via: iface4 };
    }
    const v6 = await readOptional(routePaths.ipv6Route, signal);
    const iface6 = v6 === undefined ? undefined : parseDefaultRoute6(v6);
    if (iface6) {
      const a = os.networkInterfaces()[iface6]?.find((i) => i.family === 'IPv6' && !isLinkLocal6(i.address));
      if (a) return { address: a.address, via: iface6 };
    }
    if (!iface4 && !iface6) return { skip: 'no default route' };
    return { skip: `default-route interface ${iface4 ?? iface6} has no usable address` };
  },

  loopback: async () => ({ address: '127.0.0.1', via: 'fallback' }),
} satisfies Record<AddressSource, AddressSourceFn>;

/** Every address source by name (one call signature for all); `selectAddress` runs them in order. */
export const sources: Readonly<Record<AddressSource, AddressSourceFn>> = registry;

/** Run the configured sources in order and return the first address found (loopback at worst). */
export async function selectAddress(cfg: AddressConfig, opts: SelectAddressOptions): Promise<SelectedAddress> {
  const log = opts.log.child({ component: 'address' });
  const ctx: SourceContext = {
    etcdEndpoints: opts.etcdEndpoints,
    signal: opts.signal,
    routePaths: { ...DEFAULT_ROUTE_PATHS, ...opts.routePaths },
  };
  const order = [...new Set<AddressSource>([...cfg.order, 'loopback'])];
  const tried: { source: AddressSource; reason: string }[] = [];
  for (const source of order) {
    opts.signal?.throwIfAborted();
    let outcome: SourceOutcome;
    try {
      outcome = await sources[source](cfg, ctx);
    } catch (err) {
      opts.signal?.throwIfAborted();
      outcome = { skip: `failed: ${(err as Error).message}` };
    }
    if ('address' in outcome) {
      if (source === 'loopback') {
        log.warn({ source, address: outcome.address, tried }, 'no address source found an address, using loopback');
      } else {
        log.info({ source, address: outcome.address, via: outcome.via }, 'address selected');
      }
      return { address: outcome.address, source, addresses: hostAddresses() };
    }
    tried.push({ source, reason: outcome.skip });
    if (isConfigured(cfg, source)) log.warn({ source, reason: outcome.skip }, 'configured address source found nothing');
    else log.debug({ source, reason: outcome.skip }, 'address source found nothing');
  }
  // Unreachable: loopback always answers. Kept so the types need no assertion.
  throw new Error('no address source answered');
}

/** Every non-internal IPv4/IPv6 address of the host, without IPv6 link-local and duplicates. */
export function hostAddresses(): string[] {
  const out = new Set<string>();
  for (const infos of Object.values(os.networkInterfaces())) {
    for (const i of infos ?? []) {
      if (i.internal) continue;
      if (i.family === 'IPv6' && isLinkLocal6(i.address)) continue;
      out.add(i.address);
    }
  }
  return [...out];
}

/** A parsed CIDR: `contains` tells whether an address lies inside it. */
export interface Cidr {
  family: 4 | 6;
  contains(address: string): boolean;
}

/** Parse `a.b.c.d/n` or `x::y/n`; null when malformed (the config loader may reuse this to validate). */
export function parseCidr(text: string): Cidr | null {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return null;
  const [, net, bits] = m as unknown as [string, string, string];
  const ipVersion = isIP(net);
  if (ipVersion === 0) return null;
  const family = ipVersion === 4 ? 4 : 6;
  const prefix = Number(bits);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return {
    family,
    // BlockList matches IPv4 addresses against IPv4-mapped IPv6 ranges too; keep families apart.
    contains: (address) => isIP(address) === family && list.check(address, type),
  };
}

/** The interface of the best (lowest metric, up) IPv4 default route in /proc/net/route text. */
export function parseDefaultRoute(text: string): string | undefined {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift()?.trim().split(/\s+/) ?? [];
  const col = (name: string) => header.indexOf(name);
  const [iIface, iDest, iFlags, iMetric, iMask] = ['Iface', 'Destination', 'Flags', 'Metric', 'Mask'].map(col) as [number, number, number, number, number];
  if ([iIface, iDest, iFlags, iMetric, iMask].some((i) => i < 0)) return undefined;
  let best: { iface: string; metric: number } | undefined;
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    const flags = parseInt(f[iFlags] ?? '', 16);
    if (f[iDest] !== '00000000' || f[iMask] !== '00000000' || !(flags & RTF_UP)) continue;
    const metric = Number(f[iMetric]);
    if (!best || metric < best.metric) best = { iface: f[iIface]!, metric };
  }
  return best?.iface;
}

/** The interface of the best usable IPv6 default route in /proc/net/ipv6_route text. */
export function parseDefaultRoute6(text: string): string | undefined {
  // Columns: dest, dest prefix, src, src prefix, next hop, metric, refcnt, use, flags, iface (all hex).
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, plen, , , , metricHex, , , flagsHex, iface] = f as [string, string, string, string, string, string, string, string, string, string];
    const flags = parseInt(flagsHex, 16);
    // The kernel lists an unreachable ::/0 on lo (RTF_REJECT): not a way out.
    if (!/^0{32}$/.test(dest) || plen !== '00' || !(flags & RTF_UP) || flags & RTF_REJECT || iface === 'lo') continue;
    const metric = parseInt(metricHex, 16);
    if (!best || metric < best.metric) best = { iface, metric };
  }
  return best?.iface;
}

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;
const ETCD_DEFAULT_PORT = 2379;

// Sources the operator asked for by name; their failure deserves a warning, the others' only debug.
function isConfigured(cfg: AddressConfig, source: AddressSource): boolean {
  return (source === 'interface' && !!cfg.interface) || (source === 'cidr' && !!cfg.cidr);
}

// First IPv4 of an interface, else its first IPv6 that is not link-local.
function pickAddress(infos: os.NetworkInterfaceInfo[]): string | undefined {
  return (infos.find((i) => i.family === 'IPv4') ?? infos.find((i) => i.family === 'IPv6' && !isLinkLocal6(i.address)))?.address;
}

function isLinkLocal6(address: string): boolean {
  return /^fe[89ab]/i.test(address);
}

// host and port of an etcd endpoint, with or without a scheme (etcdctl accepts both).
function parseEndpoint(endpoint: string): { host: string; port: number } | undefined {
  let url: URL;
  try {
    url = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) return undefined;
  return { host, port: url.port ? Number(url.port) : ETCD_DEFAULT_PORT };
}

// The source address the kernel picks to reach ip:port. Connecting a UDP socket only runs the
// route lookup and binds a local address; no packet leaves the host.
function localAddressTowards(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
    const done = (err: Error | null, address?: string) => {
      sock.close();
      if (err) reject(err);
      else resolve(address!);
    };
    sock.once('error', (err) => done(err));
    // A failed connect (EACCES for broadcast, ENETUNREACH) comes to this callback, not to 'error',
    // and leaves the socket bound to the wildcard address: never read address() then.
    sock.connect(port, ip, (err?: Error) => {
      if (err) return done(err);
      try {
        const { address } = sock.address();
        done(isIP(address) === 0 || address === '0.0.0.0' || address === '::' ? new Error(`kernel chose ${address}`) : null, address);
      } catch (e) {
        done(e as Error);
      }
    });
  });
}

// A file's text, or undefined when it does not exist.
async function readOptional(path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return await readFile(path, { encoding: 'utf8', signal });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

// Settle with `p`, or reject with the signal's reason as soon as it aborts.
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
