// The validated, frozen shapes produced by the config loader (src/config/load.ts).
// Durations are already parsed: fields ending in `Ms` are milliseconds, `ttl` is whole seconds.
import type { EtcdConfig } from '../etcd/options.js';
import type { AddressConfig } from '../facts/address.js';
import type { CheckSpec } from '../checks/types.js';
import type { ApiConfig } from './api.js';
import type { MetricsConfig } from './listen.js';
import type { DnsConfig } from './dns.js';
import type { ProblemsConfig } from './problems.js';
import type { CapacityConfig } from './capacity.js';
import type { ServiceResources, UsageSource } from '../types.js';
export type { ServiceResources, UsageSource };

/** One service from the config, with its validated checks (src/checks/spec.ts). */
export interface ServiceConfig {
  name: string;
  port: number;
  protocol: 'tcp' | 'udp';
  address?: string;
  tags: string[];
  meta: Record<string, string>;
  checks: readonly CheckSpec[];
  /** Reservation (`resources:`), absent when not declared. */
  resources?: ServiceResources;
  /** Where its use is measured (`unit:` or `cgroup:`), absent when not declared. */
  usage?: UsageSource;
}

/** The node section. */
export interface NodeConfig {
  /** Node name; hostname when absent in the file. */
  name: string;
  /** Requested lease TTL in whole seconds (≥ 2). */
  ttl: number;
  /** Interval between keepalives (default ttl/3). */
  keepaliveIntervalMs: number;
  /** Deadline of one keepalive request (default min(700 ms, interval/2)). */
  keepaliveTimeoutMs: number;
  labels: Record<string, string>;
  address: AddressConfig;
}

/** The agent's whole config. */
export interface AgentConfig {
  etcd: EtcdConfig;
  /** Normalised key prefix, default /beacon. */
  prefix: string;
  node: NodeConfig;
  services: ServiceConfig[];
  /** Node problem detection (kernel log, resource pressure); null when the section is absent or disabled. */
  problems: ProblemsConfig | null;
  /** The agent's local API (check reports, maintenance); null when disabled. */
  api: ApiConfig | null;
  /** Where the agent serves `/metrics` and `/healthz`; null (the default) serves nothing. */
  metrics?: MetricsConfig | null;
  /** SkyDNS records of the passing endpoints (docs/consumers.md#dns); null or absent when off. */
  dns?: DnsConfig | null;
  /** Sampling of resource use (docs/capacity.md); defaults when absent. */
  capacity?: CapacityConfig;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
}
