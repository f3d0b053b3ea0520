// Every key a node writes for one lease, built from the agent's state: the live record, one endpoint
// per service, the conditions and usage records, the SkyDNS records of passing endpoints (all leased),
// and the identity and maintenance marker (unleased). Pure: an unchanged state yields identical
// strings, which is what keeps the steady state free of writes.
import type { EndpointHealthState } from '../checks/health.js';
import { dnsInstance } from '../config/dns.js';
import type { AgentConfig } from '../config/types.js';
import { SkyDnsKeys, dnsService, type Keys } from '../etcd/keys.js';
import type { Grant } from '../etcd/store.js';
import type { Identity } from '../facts/identity.js';
import type { SelectedAddress } from '../facts/address.js';
import { encode } from '../registry/codec.js';
import type { Desired } from '../registry/registration.js';
import {
  SCHEMA_VERSION,
  type ConditionsRecord,
  type MaintenanceRecord,
  type NodeFacts,
  type NodeIdentity,
  type NodeUsageRecord,
  type NodeUtilization,
} from '../types.js';
import { endpointRecord, nodeRecord } from './records.js';

/** Local facts gathered before the agent talks to etcd. */
export interface LocalSetup {
  identity: Identity;
  facts: NodeFacts;
  address: SelectedAddress;
}

/** What a node's records are made of, as the agent holds it now. */
export interface NodeState {
  config: Pick<AgentConfig, 'node' | 'services' | 'dns'>;
  keys: Keys;
  local: LocalSetup;
  startedAt: string;
  /** When this lease was first written. */
  registeredAt: string;
  utilization?: NodeUtilization;
  /** A service's endpoint health; undefined before its checks exist. */
  health: (service: string) => EndpointHealthState | undefined;
  conditions?: ConditionsRecord;
  usage?: NodeUsageRecord;
  maintenance?: MaintenanceRecord;
}

/** The keys and values for `lease`; `leaving` marks the node as leaving (before its lease is revoked). */
export function leaseRecords(s: NodeState, lease: Grant, phase: 'up' | 'leaving'): Desired {
  const { identity, facts, address } = s.local;
  const cfg = s.config;
  const name = cfg.node.name;
  const node = nodeRecord({
    name,
    phase,
    identity,
    address,
    labels: cfg.node.labels,
    facts,
    ...(s.utilization ? { utilization: s.utilization } : {}),
    startedAt: s.startedAt,
    registeredAt: s.registeredAt,
    lease,
  });
  const ident: NodeIdentity = {
    schema: SCHEMA_VERSION,
    name,
    machineId: identity.machineId,
    bootId: identity.bootId,
    lease: lease.id,
    registeredAt: s.registeredAt,
    left: phase === 'leaving' ? { lease: lease.id, at: new Date().toISOString() } : null,
  };
  const leased = new Map<string, string>([[s.keys.live(name), encode(node)]]);
  for (const svc of cfg.services) {
    const h = s.health(svc.name) ?? { health: 'critical', output: 'checks not started', since: s.startedAt };
    leased.set(s.keys.endpoint(svc.name, name), encode(endpointRecord(svc, name, address.address, lease.id, h)));
  }
  if (s.conditions) leased.set(s.keys.conditions(name), encode(s.conditions));
  if (s.usage) leased.set(s.keys.usage(name), encode(s.usage));
  // SkyDNS records of the passing endpoints (docs/consumers.md#dns): leased keys like the endpoints,
  // so they are written and deleted in the same transactions and vanish with the lease.
  if (cfg.dns) {
    const dns = new SkyDnsKeys(cfg.dns.prefix, cfg.dns.domain);
    const instance = dnsInstance(cfg);
    for (const svc of cfg.services) {
      if (s.health(svc.name)?.health !== 'passing') continue;
      const host = svc.address ?? address.address;
      leased.set(dns.record(dnsService(svc.name), instance), skyDnsRecord(host, svc.port, cfg.dns.ttl));
    }
  }
  const unleased = new Map([[s.keys.identity(name), encode(ident)]]);
  if (s.maintenance) unleased.set(s.keys.maintenance(name), encode(s.maintenance));
  return { leased, unleased };
}

/**
 * One SkyDNS record as the CoreDNS `etcd` plugin decodes it (plugin/etcd/msg/service.go `Service`):
 * `host` an IP (served as A/AAAA, and as the SRV target's glue), `port` for SRV, `ttl` in seconds.
 * Fixed field order, so an unchanged endpoint makes the same string and causes no write.
 */
export function skyDnsRecord(host: string, port: number, ttl: number): string {
  return JSON.stringify({ host, port, ttl });
}
