// What a config makes the agent write, checked against what etcd and beacon's readers accept, before
// anything runs (`beacon validate`, the agent's start, a reload). A config past these limits would pass
// validation and then never register (etcd refuses the transaction) or show the node as `failed`
// (readers refuse the record): both are config errors naming the field instead.
import type { AgentConfig } from '../config/types.js';
import { formatBytes } from '../util/file.js';
import { ConfigError } from '../errors.js';
import { OUTPUT_CAP_BYTES } from '../util/output.js';
import { CHECK_OUTPUT_CAP_BYTES } from '../checks/health.js';
import { MAX_VALUE_BYTES, encode } from '../registry/codec.js';
import { endpointRecord, nodeRecord } from './records.js';
import { isTracked } from './usage-monitor.js';

/** etcd's default `--max-txn-ops`: more operations in one transaction are refused (etcdserver: too many operations in txn request). */
export const ETCD_MAX_TXN_OPS = 128;

/**
 * Puts in the largest transaction the agent sends for a config: registration (and a rewrite after its keys
 * were deleted) writes everything at once: the live record, the identity, the maintenance marker, the
 * conditions record with `problems` on, one endpoint per service and, with `dns` on, one SkyDNS record per
 * passing service, and the usage record when a service declares resources, unit or cgroup (docs/capacity.md).
 * etcd counts the compare and the read-back separately (each list against the limit).
 */
export function registrationOps(cfg: Pick<AgentConfig, 'services' | 'problems' | 'dns'>): number {
  const n = cfg.services.length;
  return 3 + (cfg.problems ? 1 : 0) + (cfg.services.some(isTracked) ? 1 : 0) + n + (cfg.dns ? n : 0);
}

/** The most services a config can have with these sections on (and with the usage record, when `services` declare resources). */
export function maxServices(cfg: Pick<AgentConfig, 'problems' | 'dns'> & { services?: AgentConfig['services'] }): number {
  const fixed = 3 + (cfg.problems ? 1 : 0) + (cfg.services?.some(isTracked) ? 1 : 0);
  return Math.floor((ETCD_MAX_TXN_OPS - fixed) / (cfg.dns ? 2 : 1));
}

/**
 * Puts and deletes of the transaction a reload from `from` to `to` causes at most: everything `to` writes
 * (a changed label rewrites the live record, a changed service its endpoint) plus a delete for each
 * endpoint and SkyDNS record `from` wrote that `to` does not.
 */
export function reloadOps(from: AgentConfig, to: AgentConfig): number {
  const kept = new Set(to.services.map((s) => s.name));
  const gone = from.services.filter((s) => !kept.has(s.name)).length;
  return registrationOps(to) + gone + (from.dns ? (to.dns ? gone : from.services.length) : 0);
}

// The largest values a running agent puts in the parts of a record the config does not set: a worst
// case, so a config that passes here cannot be pushed over the limit by the host it runs on.
const WORST_TEXT = 'x'.repeat(256);
const WORST_ADDRESS = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
const WORST_TIME = '2000-01-01T00:00:00.000Z';
// Check output is capped in bytes; JSON shows a control byte as \u00XX (6 bytes): the largest encoding.
const WORST_OUTPUT = `${'\u0001'.repeat(OUTPUT_CAP_BYTES)}\n... (captured ${OUTPUT_CAP_BYTES} of ${Number.MAX_SAFE_INTEGER} bytes)`;
// The same for one check's entry in the endpoint record (`checks`: name and output capped smaller).
const WORST_CHECK_TEXT = `${'\u0001'.repeat(CHECK_OUTPUT_CAP_BYTES)}\n... (captured ${CHECK_OUTPUT_CAP_BYTES} of ${Number.MAX_SAFE_INTEGER} bytes)`;
const WORST_LEASE = { id: 'ffffffffffffffff', ttl: 86_400 };

/**
 * Problems of a config past etcd's transaction limit or the readers' record size limit, each naming the
 * field to change; empty when the config fits.
 */
export function registrationProblems(cfg: AgentConfig): ConfigError[] {
  const out: ConfigError[] = [];
  const ops = registrationOps(cfg);
  if (ops > ETCD_MAX_TXN_OPS) {
    out.push(
      new ConfigError(
        'services',
        `${cfg.services.length} services`,
        `need ${ops} operations in the registration transaction, more than etcd's limit of ${ETCD_MAX_TXN_OPS} (--max-txn-ops): ` +
          `at most ${maxServices(cfg)} services with${cfg.dns ? '' : 'out'} dns and with${cfg.problems ? '' : 'out'} problems`,
      ),
    );
  }
  const address = { address: WORST_ADDRESS, source: 'config' as const, addresses: Array<string>(64).fill(WORST_ADDRESS) };
  const node = nodeRecord({
    name: cfg.node.name,
    phase: 'leaving',
    identity: { machineId: 'f'.repeat(32), bootId: 'f'.repeat(36) },
    address,
    labels: cfg.node.labels,
    facts: { os: WORST_TEXT, osRelease: WORST_TEXT, kernel: WORST_TEXT, arch: WORST_TEXT, cpus: 1e6, memoryBytes: 2 ** 53, diskBytes: 2 ** 53 },
    utilization: { load1: 1e6, memoryUsedPercent: 100, diskUsedPercent: 100, at: WORST_TIME },
    startedAt: WORST_TIME,
    registeredAt: WORST_TIME,
    lease: WORST_LEASE,
  });
  const nodeBytes = Buffer.byteLength(encode(node));
  if (nodeBytes > MAX_VALUE_BYTES) {
    out.push(
      new ConfigError(
        'node.labels',
        `${Object.keys(cfg.node.labels).length} labels`,
        `make a node record of up to ${nodeBytes} bytes, more than readers accept (${formatBytes(MAX_VALUE_BYTES)}): use fewer or shorter labels`,
      ),
    );
  }
  cfg.services.forEach((svc, i) => {
    // Each check's own entry at its largest: the capped output and name, a time of the longest form.
    const checks = svc.checks.map((c) => ({ id: c.id, name: WORST_CHECK_TEXT, status: 'critical' as const, output: WORST_CHECK_TEXT, since: WORST_TIME }));
    const health = { health: 'critical' as const, output: WORST_OUTPUT, since: WORST_TIME, ...(checks.length > 0 ? { checks } : {}) };
    const bytes = Buffer.byteLength(encode(endpointRecord(svc, cfg.node.name, WORST_ADDRESS, WORST_LEASE.id, health)));
    if (bytes > MAX_VALUE_BYTES) {
      out.push(
        new ConfigError(
          `services[${i}]`,
          `${svc.tags.length} tags, ${Object.keys(svc.meta).length} meta`,
          `makes an endpoint record of up to ${bytes} bytes, more than readers accept (${formatBytes(MAX_VALUE_BYTES)}): use fewer or shorter tags and meta`,
        ),
      );
    }
  });
  return out;
}
