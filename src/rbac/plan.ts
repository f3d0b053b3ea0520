// The least-privilege etcd roles and users for a fleet (docs/security.md#least-privilege-etcd-rbac).
// Pure: a fleet description in, roles/users/permissions out; src/rbac/render.ts prints it as an etcdctl
// script and src/etcd/auth.ts applies it. Every key comes from src/etcd/keys.ts.
//
// Why each grant exists:
// - a node writes only its own keys (docs/keys.md "one writer per key"), and etcd checks write permission
//   on every key bound to a lease when that lease is revoked: its role covers exactly what its lease
//   carries (live, conditions, endpoints, DNS records) plus its unleased and events keys;
// - the watcher reads everything under the prefix and writes only below `watcher/`;
// - consumers (`beacon nodes`, `services`, `watch`, CoreDNS) only read.
import { Keys, SkyDnsKeys, dnsService, nameProblem } from '../etcd/keys.js';
import { NODE_ROLE_PREFIX, type Permission, type RbacPlan, type RolePlan } from '../etcd/auth.js';

// The plan's shape is what src/etcd/auth.ts applies; it is defined there, beside the code that needs it.
export { NODE_ROLE_PREFIX, type Access, type Permission, type RbacPlan, type RolePlan, type UserPlan } from '../etcd/auth.js';

/** Where a node's SkyDNS records go (the agent config's `dns` section). */
export interface FleetDns {
  /** The SkyDNS path, e.g. `/skydns`. */
  prefix: string;
  /** The zone, e.g. `beacon.local`. */
  domain: string;
  /** This node's label in its records (the lowercased node name unless `dns.instance` says otherwise). */
  instance: string;
}

/** One node of the fleet: its name, the services it registers, and its DNS records if any. */
export interface FleetNode {
  name: string;
  services: string[];
  dns?: FleetDns;
}

/** What the plan is computed from. */
export interface Fleet {
  /** beacon's key prefix (normalised, e.g. `/beacon`). */
  prefix: string;
  nodes: FleetNode[];
}

/** The watcher's role and user. */
export const WATCHER_ROLE = 'beacon-watcher';
/** The consumers' read-only role and user. */
export const READER_ROLE = 'beacon-reader';

/** The role (and user) name of one node. */
export function nodeRole(node: string): string {
  return `${NODE_ROLE_PREFIX}${node}`;
}

/** Compute the roles and users of a fleet; throws RangeError on an invalid or duplicated node name. */
export function planRbac(fleet: Fleet): RbacPlan {
  const keys = new Keys(fleet.prefix);
  const nodes = [...fleet.nodes].sort((a, b) => cmp(a.name, b.name));
  const seen = new Set<string>();
  for (const n of nodes) {
    const problem = nameProblem(n.name);
    if (problem) throw new RangeError(`node name ${JSON.stringify(n.name)} ${problem}`);
    if (seen.has(n.name)) throw new RangeError(`node ${JSON.stringify(n.name)} is listed twice`);
    seen.add(n.name);
    for (const s of n.services) {
      const sp = nameProblem(s);
      if (sp) throw new RangeError(`service name ${JSON.stringify(s)} of node ${n.name} ${sp}`);
    }
  }

  const roles: RolePlan[] = nodes.map((n) => ({ name: nodeRole(n.name), permissions: nodePermissions(keys, n) }));
  const zones = [...new Set(nodes.flatMap((n) => (n.dns ? [new SkyDnsKeys(n.dns.prefix, n.dns.domain).zone] : [])))].sort(cmp);
  roles.push({
    name: WATCHER_ROLE,
    permissions: [
      { access: 'read', key: keys.root, prefix: true },
      { access: 'readwrite', key: keys.watcher, prefix: true },
    ],
  });
  roles.push({
    name: READER_ROLE,
    permissions: [
      { access: 'read', key: keys.root, prefix: true },
      ...zones.map((zone): Permission => ({ access: 'read', key: zone, prefix: true })),
    ],
  });
  return { prefix: fleet.prefix, roles, users: roles.map((r) => ({ name: r.name, roles: [r.name] })) };
}

// Exactly what the node's agent writes: its node and events prefixes, its endpoints and DNS records.
function nodePermissions(keys: Keys, n: FleetNode): Permission[] {
  const services = [...new Set(n.services)].sort(cmp);
  const dns = n.dns ? new SkyDnsKeys(n.dns.prefix, n.dns.domain) : undefined;
  return [
    { access: 'readwrite', key: keys.node(n.name), prefix: true },
    { access: 'readwrite', key: keys.nodeEvents(n.name), prefix: true },
    ...services.map((s): Permission => ({ access: 'readwrite', key: keys.endpoint(s, n.name), prefix: false })),
    ...(dns ? services.map((s): Permission => ({ access: 'readwrite', key: dns.record(dnsService(s), n.dns!.instance), prefix: false })) : []),
  ];
}

// Byte order, as etcd sorts keys (not locale order).
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
