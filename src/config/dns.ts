// The `dns` section: mirror passing endpoints as SkyDNS records for the CoreDNS `etcd` plugin
// (docs/consumers.md#dns). Off unless the section is present (and not `enabled: false`).
// Names become DNS labels: the node and service names are lowercased (DNS is case-insensitive and
// CoreDNS lowercases the query before it builds the etcd key), and whatever is then not one valid
// label is a config error naming the field, rather than a record no query can ever reach.
import { ConfigError } from '../errors.js';
import { dnsLabelProblem, dnsService, normalizePrefix } from '../etcd/keys.js';
import { Fields } from '../util/fields.js';
import type { ParseContext } from './sections.js';

/** Where and how the agent writes SkyDNS records. */
export interface DnsConfig {
  /** Zone the records live in, lowercase, no trailing dot (default `beacon.local`). */
  domain: string;
  /** etcd path the CoreDNS `etcd` plugin reads (its `path`), normalised (default `/skydns`). */
  prefix: string;
  /** TTL of the DNS answers in seconds (default 30). */
  ttl: number;
  /** This node's label in the records; the lowercased node name when absent. */
  instance?: string;
}

/** Defaults of the `dns` section. */
export const DNS_DEFAULTS = { domain: 'beacon.local', prefix: '/skydns', ttl: 30 } as const;

// A DNS name is at most 253 characters in its dotted form.
const MAX_DOMAIN = 253;

function domainProblem(s: string): string | undefined {
  const d = s.endsWith('.') ? s.slice(0, -1) : s;
  if (d === '') return 'must not be empty';
  if (d.length > MAX_DOMAIN) return `must be at most ${MAX_DOMAIN} characters`;
  for (const label of d.split('.')) {
    const p = dnsLabelProblem(label);
    if (p) return `label ${JSON.stringify(label)} ${p}`;
  }
  return undefined;
}

/** The `dns` section: `{enabled, domain, prefix, ttl, instance}`; null when absent or disabled. */
export function parseDns(raw: unknown, ctx: ParseContext): DnsConfig | null {
  const f = new Fields('dns', raw, ctx.problems);
  const enabled = f.read('enabled', (p, field, v) => (typeof v === 'boolean' ? v : p.add(field, v, 'must be true or false')), undefined);
  const domain = f.string('domain', (s) => domainProblem(s.toLowerCase()));
  const prefix = f.string('prefix', (s) => {
    if (normalizePrefix(s) === '') return 'must name a path such as /skydns (the Corefile\'s `path`)';
    if (normalizePrefix(s).split('/').some((seg, i) => i > 0 && (seg === '' || seg === '.' || seg === '..'))) {
      return 'must not hold empty, "." or ".." segments';
    }
    return undefined;
  });
  const ttl = f.integer('ttl', { min: 1, max: 86_400 });
  const instance = f.string('instance', (s) => dnsLabelProblem(s));
  f.done();
  if (raw == null || enabled === false) return null;
  const d = (domain ?? DNS_DEFAULTS.domain).toLowerCase();
  return {
    domain: d.endsWith('.') ? d.slice(0, -1) : d,
    prefix: normalizePrefix(prefix ?? DNS_DEFAULTS.prefix),
    ttl: ttl ?? DNS_DEFAULTS.ttl,
    ...(instance !== undefined ? { instance } : {}),
  };
}

/** What the DNS names are made of (the agent config has it; this module does not import that config's type). */
interface DnsNames {
  node: { name: string };
  dns?: DnsConfig | null;
}

/** The label of this node in its records: `dns.instance`, else the node name lowercased. */
export function dnsInstance(cfg: DnsNames): string {
  return cfg.dns?.instance ?? cfg.node.name.toLowerCase();
}

/**
 * Cross-section checks when `dns` is on: the instance label and every service's label must be valid
 * DNS labels, and no two services may share one. Each problem names the field to change.
 */
export function dnsNameProblems(cfg: DnsNames & { services: readonly { name: string }[] }): ConfigError[] {
  if (!cfg.dns) return [];
  const out: ConfigError[] = [];
  if (cfg.dns.instance === undefined) {
    const p = dnsLabelProblem(dnsInstance(cfg));
    if (p) out.push(new ConfigError('node.name', cfg.node.name, `${p} when dns is enabled (lowercased); or set dns.instance`));
  }
  const seen = new Map<string, number>();
  cfg.services.forEach((s, i) => {
    const label = dnsService(s.name);
    const p = dnsLabelProblem(label);
    if (p) out.push(new ConfigError(`services[${i}].name`, s.name, `${p} when dns is enabled (lowercased)`));
    const first = seen.get(label);
    if (first !== undefined) {
      out.push(new ConfigError(`services[${i}].name`, s.name, `same DNS label as services[${first}].name when dns is enabled: "${label}"`));
    } else seen.set(label, i);
  });
  return out;
}
