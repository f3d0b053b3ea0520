// The one module that builds and parses beacon's etcd key strings (docs/keys.md is the contract).
//
// Layout under a prefix P (default /beacon), schema version v1:
//   P/v1/nodes/<node>/live            node live record       (agent, node lease)
//   P/v1/nodes/<node>/identity        node identity          (agent, no lease)
//   P/v1/nodes/<node>/conditions      node conditions        (agent, node lease)
//   P/v1/nodes/<node>/maintenance     maintenance marker     (agent, no lease)
//   P/v1/nodes/<node>/usage           capacity and use       (agent, node lease)
//   P/v1/services/<service>/<node>    endpoint               (agent, node lease)
//   P/v1/events/<node>/<id>           node problem events    (agent, events lease)
//   P/v1/watcher/status/<node>        node status            (watcher leader, no lease)
//   P/v1/watcher/events/<id>          watcher events         (watcher leader, retention lease)
//   P/v1/watcher/reactions/<key>      reaction progress      (watcher leader, no lease)
//   P/v1/watcher/history/<node>       node history           (watcher leader, no lease; bounded)
//   P/v1/watcher/election/            leader election        (each watcher, its own lease)

/** The schema segment of every key. */
export const KEY_VERSION = 'v1';

/** The prefix used when none is configured. */
export const DEFAULT_PREFIX = '/beacon';

// Names become one path segment: no slashes, no dot-segments, nothing etcdctl users must quote.
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?$/;

/** Whether `name` is usable as a node or service name (one safe key segment). */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes('..');
}

/** Why `name` is not a valid node/service name, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.length > 253) return 'must be at most 253 characters';
  if (!isValidName(name)) {
    return 'must be letters, digits, ".", "_" or "-", start and end with a letter or digit, no ".."';
  }
  return undefined;
}

/** Normalise a configured prefix: leading slash, no trailing slash. */
export function normalizePrefix(prefix: string): string {
  let p = prefix.trim();
  if (!p.startsWith('/')) p = `/${p}`;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p === '/' ? '' : p;
}

/** What a key under the prefix refers to, as recovered by `parse`. */
export type ParsedKey =
  | { kind: 'live'; node: string }
  | { kind: 'identity'; node: string }
  | { kind: 'conditions'; node: string }
  | { kind: 'maintenance'; node: string }
  | { kind: 'usage'; node: string }
  | { kind: 'endpoint'; service: string; node: string }
  | { kind: 'event'; node: string; id: string }
  | { kind: 'status'; node: string }
  | { kind: 'watcher-event'; id: string }
  | { kind: 'reaction'; id: string }
  | { kind: 'history'; node: string }
  | { kind: 'election'; id: string }
  | { kind: 'unknown' };

/** Every key string beacon reads or writes, for one prefix. */
export class Keys {
  /** `<prefix>/v1/`: everything beacon owns sits below it. */
  readonly root: string;

  constructor(prefix: string = DEFAULT_PREFIX) {
    this.root = `${normalizePrefix(prefix)}/${KEY_VERSION}/`;
  }

  /** Prefix of all node keys. */
  get nodes(): string {
    return `${this.root}nodes/`;
  }
  /** Prefix of one node's keys. */
  node(node: string): string {
    return `${this.nodes}${seg(node)}/`;
  }
  /** The node's live record (leased). */
  live(node: string): string {
    return `${this.node(node)}live`;
  }
  /** The node's persistent identity (unleased). */
  identity(node: string): string {
    return `${this.node(node)}identity`;
  }
  /** The node's conditions (leased). */
  conditions(node: string): string {
    return `${this.node(node)}conditions`;
  }
  /** The node's maintenance marker (unleased). */
  maintenance(node: string): string {
    return `${this.node(node)}maintenance`;
  }
  /** The node's capacity, reservations and measured use (leased; docs/capacity.md). */
  usage(node: string): string {
    return `${this.node(node)}usage`;
  }
  /** Prefix of all endpoints of all services. */
  get services(): string {
    return `${this.root}services/`;
  }
  /** Prefix of one service's endpoints: listing them is one prefix read. */
  service(service: string): string {
    return `${this.services}${seg(service)}/`;
  }
  /** One endpoint: a service on a node. */
  endpoint(service: string, node: string): string {
    return `${this.service(service)}${seg(node)}`;
  }
  /** Prefix of all agent-written events. */
  get events(): string {
    return `${this.root}events/`;
  }
  /** Prefix of one node's events. */
  nodeEvents(node: string): string {
    return `${this.events}${seg(node)}/`;
  }
  /** One node event. */
  event(node: string, id: string): string {
    return `${this.nodeEvents(node)}${seg(id)}`;
  }
  /** Prefix of everything the watcher writes. */
  get watcher(): string {
    return `${this.root}watcher/`;
  }
  /** Prefix of node statuses kept by the watcher. */
  get statuses(): string {
    return `${this.watcher}status/`;
  }
  /** One node's status kept by the watcher. */
  status(node: string): string {
    return `${this.statuses}${seg(node)}`;
  }
  /** Prefix of watcher events. */
  get watcherEvents(): string {
    return `${this.watcher}events/`;
  }
  /** One watcher event. */
  watcherEvent(id: string): string {
    return `${this.watcherEvents}${seg(id)}`;
  }
  /** Prefix of reaction progress records. */
  get reactions(): string {
    return `${this.watcher}reactions/`;
  }
  /** One reaction's progress record. */
  reaction(id: string): string {
    return `${this.reactions}${seg(id)}`;
  }
  /** Prefix of the per-node histories kept by the watcher. */
  get histories(): string {
    return `${this.watcher}history/`;
  }
  /** One node's history kept by the watcher (what `beacon explain` reads). */
  history(node: string): string {
    return `${this.histories}${seg(node)}`;
  }
  /** Prefix of the watchers' leader election. */
  get election(): string {
    return `${this.watcher}election/`;
  }

  /** Recover what a key refers to; `unknown` for anything beacon does not write. */
  parse(key: string): ParsedKey {
    if (!key.startsWith(this.root)) return { kind: 'unknown' };
    const parts = key.slice(this.root.length).split('/');
    const ok = (...names: string[]) => names.every(isValidName);
    const [a, b, c, d] = parts;
    if (a === 'nodes' && parts.length === 3 && ok(b)) {
      if (c === 'live' || c === 'identity' || c === 'conditions' || c === 'maintenance' || c === 'usage') {
        return { kind: c, node: b };
      }
    }
    if (a === 'services' && parts.length === 3 && ok(b, c)) return { kind: 'endpoint', service: b, node: c };
    if (a === 'events' && parts.length === 3 && ok(b) && c) return { kind: 'event', node: b, id: c };
    if (a === 'watcher' && parts.length === 3 && c) {
      if (b === 'status' && ok(c)) return { kind: 'status', node: c };
      if (b === 'events') return { kind: 'watcher-event', id: c };
      if (b === 'reactions') return { kind: 'reaction', id: c };
      if (b === 'history' && ok(c)) return { kind: 'history', node: c };
      if (b === 'election') return { kind: 'election', id: c };
    }
    void d;
    return { kind: 'unknown' };
  }
}

// Refuse to build a key from a segment that could escape its place (`../`, `/`, empty).
function seg(s: string): string {
  if (s === '' || s.includes('/') || s === '.' || s === '..') {
    throw new RangeError(`invalid key segment: ${JSON.stringify(s)}`);
  }
  return s;
}

/** A DNS label as the CoreDNS `etcd` plugin looks it up: lowercase letters, digits, inner hyphens, 1-63 chars. */
const DNS_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `label` cannot be one DNS label of a SkyDNS record key, or undefined when it can. */
export function dnsLabelProblem(label: string): string | undefined {
  if (DNS_LABEL_RE.test(label)) return undefined;
  if (label.length > 63) return 'must be at most 63 characters (one DNS label)';
  return 'must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit';
}

/** A service name as its DNS records' label: lowercased. */
export function dnsService(name: string): string {
  return name.toLowerCase();
}

/**
 * SkyDNS record keys, as the CoreDNS `etcd` plugin reads them (plugin/etcd/msg/path.go): the domain's
 * labels reversed under the path, `<path>/local/beacon/<service>/<instance>` for `<instance>.<service>.beacon.local`.
 * They live outside beacon's prefix; the lookup of `<service>.<domain>` is a prefix read of `service()`.
 */
export class SkyDnsKeys {
  /** `<path>/<reversed domain labels>/`: every record beacon writes sits below it. */
  readonly zone: string;

  /** `domain` as dotted labels (`beacon.local`), each already a valid DNS label; `path` as `/skydns`. */
  constructor(path: string, domain: string) {
    const labels = domain.split('.').filter((l) => l !== '');
    for (const l of labels) if (dnsLabelProblem(l)) throw new RangeError(`invalid DNS label: ${JSON.stringify(l)}`);
    if (labels.length === 0) throw new RangeError('empty DNS domain');
    const p = normalizePrefix(path);
    if (p === '') throw new RangeError('empty SkyDNS path');
    this.zone = `${p}/${labels.reverse().join('/')}/`;
  }
  /** Prefix of one service's records (`<service>.<domain>` resolves to all of them). */
  service(service: string): string {
    return `${this.zone}${dnsSeg(service)}/`;
  }
  /** One instance's record: `<instance>.<service>.<domain>`. */
  record(service: string, instance: string): string {
    return `${this.service(service)}${dnsSeg(instance)}`;
  }
}

function dnsSeg(s: string): string {
  if (dnsLabelProblem(s)) throw new RangeError(`invalid DNS label: ${JSON.stringify(s)}`);
  return s;
}
