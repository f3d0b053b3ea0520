// The `node` section: name, lease timing, labels and how the node's address is chosen.
import type { AddressConfig, EnvFileKey } from '../facts/address.js';
import type { AddressSource } from '../types.js';
import type { NodeConfig } from './types.js';
import { nameProblem } from '../etcd/keys.js';
import { formatDuration } from '../util/duration.js';
import {
  Fields,
  absolutePath,
  cidr,
  ipAddress,
  mapKey,
  optionalText,
  readEnum,
  readList,
  readString,
  type Check,
  type Reader,
} from '../util/fields.js';
import type { ParseContext } from './sections.js';

/** Lease TTL when the file sets none, ms. */
export const DEFAULT_TTL_MS = 10_000;
/** etcd refuses (silently raises) TTLs below 2 s with default election settings. */
export const MIN_TTL_MS = 2_000;
// A day: a failed node is noticed only after its TTL, and ttl/3 (the keepalive interval) stays a valid
// Node timer (etcd's own MaxLeaseTTL, 9,000,000,000 s, is far past both).
const MAX_TTL_MS = 86_400_000;
/** Most labels a node may carry, and the longest label value (keys: 128, see mapKey): Consul's node-meta limits. */
export const MAX_LABELS = 64;
export const MAX_LABEL_VALUE = 256;
// Keepalives faster than this only load etcd.
const MIN_KEEPALIVE_INTERVAL_MS = 100;
export const MAX_KEEPALIVE_TIMEOUT_MS = 700;
// A keepalive request allowed longer than this is no deadline (the default is 700 ms).
const MAX_KEEPALIVE_TIMEOUT_LIMIT_MS = 300_000;

// Every AddressSource, checked exhaustive by the compiler.
const SOURCES = {
  config: true,
  interface: true,
  cidr: true,
  'env-file': true,
  'etcd-route': true,
  'default-route': true,
  loopback: true,
} satisfies Record<AddressSource, true>;

/** Every known address source. */
export const ADDRESS_SOURCES = Object.keys(SOURCES) as AddressSource[];

/** Address sources in the order tried when the file sets none. */
export const DEFAULT_ADDRESS_ORDER: readonly AddressSource[] = [
  'config',
  'interface',
  'cidr',
  'env-file',
  'etcd-route',
  'default-route',
];

// The private IPv4 attributes cloud metadata agents write. Afterburn (Fedora CoreOS, /run/metadata/afterburn) and
// Flatcar's coreos-metadata (/run/metadata/flatcar, COREOS_ prefix) name them per platform: AWS, OpenStack and
// CloudStack `*_IPV4_LOCAL`; DigitalOcean and Packet `*_IPV4_PRIVATE_0`; Azure `*_IPV4_DYNAMIC`; GCP `*_IP_LOCAL_0`;
// custom providers `*_PRIVATE_IPV4`. Container Linux put COREOS_PRIVATE_IPV4 in /etc/environment.
const METADATA_KEYS = ['_IPV4_LOCAL', '_IPV4_PRIVATE_0', '_IPV4_DYNAMIC', '_IP_LOCAL_0', '_PRIVATE_IPV4'];

/** Environment files tried (in order) when the file sets none; see examples/agent-full.yaml. */
export const DEFAULT_ENV_FILES: readonly { path: string; key: string }[] = [
  ...METADATA_KEYS.map((k) => ({ path: '/run/metadata/afterburn', key: `AFTERBURN_*${k}` })),
  ...METADATA_KEYS.map((k) => ({ path: '/run/metadata/flatcar', key: `COREOS_*${k}` })),
  { path: '/etc/environment', key: 'COREOS_PRIVATE_IPV4' },
];

/** The `node` section. */
export function parseNode(raw: unknown, ctx: ParseContext): NodeConfig {
  const f = new Fields('node', raw, ctx.problems);
  const name = f.has('name') ? f.string('name', nameProblem) : nameFromHost(f, ctx);
  const ttlMs =
    f.duration('ttl', { min: MIN_TTL_MS, max: MAX_TTL_MS, wholeSeconds: true, why: "etcd's minimum lease TTL is 2 s" }) ??
    DEFAULT_TTL_MS;
  const interval = f.duration('keepaliveInterval', { min: MIN_KEEPALIVE_INTERVAL_MS, max: MAX_TTL_MS / 3 });
  const timeout = f.duration('keepaliveTimeout', { min: 1, max: MAX_KEEPALIVE_TIMEOUT_LIMIT_MS });
  const labels = f.stringMap('labels', { key: mapKey, value: optionalText(MAX_LABEL_VALUE), maxEntries: MAX_LABELS }) ?? {};
  const address = parseAddress(f.section('address'));
  f.done();

  // Three keepalives per TTL let two in a row fail before the lease expires.
  const keepaliveIntervalMs = interval ?? Math.floor(ttlMs / 3);
  const keepaliveTimeoutMs = timeout ?? Math.min(MAX_KEEPALIVE_TIMEOUT_MS, Math.floor(keepaliveIntervalMs / 2));
  const show = formatDuration;
  if (interval !== undefined && !f.bad('ttl') && keepaliveIntervalMs * 3 > ttlMs) {
    f.fail(
      'keepaliveInterval',
      `must be at most a third of node.ttl: ttl=${show(ttlMs)} keepaliveInterval=${show(keepaliveIntervalMs)}`,
    );
  }
  if (timeout !== undefined && !f.bad('keepaliveInterval') && keepaliveTimeoutMs >= keepaliveIntervalMs) {
    f.fail(
      'keepaliveTimeout',
      `must be less than node.keepaliveInterval: keepaliveInterval=${show(keepaliveIntervalMs)} keepaliveTimeout=${show(keepaliveTimeoutMs)}`,
    );
  }
  return { name: name ?? '', ttl: ttlMs / 1000, keepaliveIntervalMs, keepaliveTimeoutMs, labels, address };
}

function nameFromHost(f: Fields, ctx: ParseContext): string | undefined {
  const host = ctx.hostname;
  if (host === undefined) return f.fail('name', 'is required (no hostname to default to)');
  const problem = nameProblem(host);
  if (problem) return f.fail('name', `${problem} (defaulted from the hostname: set node.name)`, host);
  return host;
}

const IFNAME: Check<string> = (s) =>
  /^[^\s/:]{1,15}$/.test(s) ? undefined : 'must be an interface name: 1-15 characters, no spaces, "/" or ":"';

// Variable names, where `*` stands for any run of letters, digits and `_`.
const ENV_KEY: Check<string> = (s) =>
  /^[A-Za-z_*][A-Za-z0-9_*]*$/.test(s) ? undefined : 'must be a variable name (letters, digits, "_"; "*" as a glob)';

function compileKey(key: string): RegExp {
  return new RegExp(`^${key.replaceAll('*', '[A-Za-z0-9_]*')}$`);
}

/** `node.address.order`: known sources, no duplicates, at least one. */
const readOrder: Reader<AddressSource[]> = (p, field, value) => {
  const items = readList(p, field, value, undefined);
  if (!items) return undefined;
  if (items.length === 0) return p.add(field, value, 'must name at least one address source');
  const out = items.map((item, i) => readEnum(p, `${field}[${i}]`, item, ADDRESS_SOURCES));
  if (out.some((s) => s === undefined)) return undefined;
  const dup = out.findIndex((s, i) => out.indexOf(s) !== i);
  if (dup >= 0) return p.add(`${field}[${dup}]`, out[dup], `is listed twice (also ${field}[${out.indexOf(out[dup])}])`);
  return out as AddressSource[];
};

function parseAddress(f: Fields): AddressConfig {
  const address = f.string('address', ipAddress);
  const iface = f.string('interface', IFNAME);
  const range = f.string('cidr', cidr);
  const envFiles: EnvFileKey[] = f.has('envFiles')
    ? f.sections('envFiles').flatMap((e) => {
        const path = e.required('path', readString, absolutePath);
        const key = e.required('key', readString, ENV_KEY);
        e.done();
        return path !== undefined && key !== undefined ? [{ path, key, pattern: compileKey(key) }] : [];
      })
    : DEFAULT_ENV_FILES.map((e) => ({ ...e, pattern: compileKey(e.key) }));
  const order = f.read('order', readOrder, undefined) ?? [...DEFAULT_ADDRESS_ORDER];
  f.done();

  // A setting whose source is never tried is a mistake, not a preference.
  const needs = [
    ['address', 'config'],
    ['interface', 'interface'],
    ['cidr', 'cidr'],
  ] as const;
  for (const [key, source] of needs) {
    if (f.has(key) && !f.bad('order') && !order.includes(source)) {
      f.fail(key, `is set but "${source}" is not in ${f.at('order')}`);
    }
  }

  const out: AddressConfig = { envFiles, order };
  if (address !== undefined) out.address = address;
  if (iface !== undefined) out.interface = iface;
  if (range !== undefined) out.cidr = range;
  return out;
}
