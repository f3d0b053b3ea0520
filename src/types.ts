// Shared shapes: the records beacon stores in etcd and passes between its parts.
// Every value written to etcd carries `schema: SCHEMA_VERSION`; see docs/keys.md.

/** The version of the JSON records under `<prefix>/v1/`. */
export const SCHEMA_VERSION = 1;

/** Health of an endpoint or a check, in Consul's words. */
export type HealthStatus = 'passing' | 'warning' | 'critical';

/** Endpoint health as stored: a check outcome, or taken out of service by an operator. */
export type EndpointHealth = HealthStatus | 'maintenance';

/** State of a node's live record: `up`, or `leaving` just before a graceful revoke. */
export type NodeLiveState = 'up' | 'leaving';

/** Where the node's address came from (logged and stored, so operators can tell). */
export type AddressSource =
  | 'config'
  | 'interface'
  | 'cidr'
  | 'env-file'
  | 'etcd-route'
  | 'default-route'
  | 'loopback';

/** Plain facts about the host, gathered once at start (src/facts). */
export interface NodeFacts {
  os: string;
  osRelease: string;
  kernel: string;
  arch: string;
  cpus: number;
  memoryBytes: number;
  /** Size of the root filesystem in bytes; absent when statfs(2) of `/` failed. */
  diskBytes?: number;
}

/**
 * Coarse, sticky utilization (src/facts/utilization.ts): changed only when a value moved a whole step,
 * and at most every few minutes, so that it does not turn the agent's writes-on-change into a timer.
 */
export interface NodeUtilization {
  /** 1-minute load average, one decimal. */
  load1: number;
  /** Memory in use (total minus available), percent in steps of 10. */
  memoryUsedPercent: number;
  /** Root filesystem use (as df), percent in steps of 10; null when unknown. */
  diskUsedPercent: number | null;
  /** When these values were sampled, ISO 8601. */
  at: string;
}

/** `<prefix>/v1/nodes/<node>/live`: the node's live record, bound to its lease. */
export interface NodeRecord {
  schema: typeof SCHEMA_VERSION;
  name: string;
  state: NodeLiveState;
  machineId: string;
  bootId: string;
  address: string;
  addressSource: AddressSource;
  addresses: string[];
  labels: Record<string, string>;
  facts: NodeFacts;
  /** Coarse utilization; absent until the agent's first sample. */
  utilization?: NodeUtilization;
  agentVersion: string;
  pid: number;
  /** Agent process start, ISO 8601. */
  startedAt: string;
  /** When this lease's registration was written, ISO 8601. */
  registeredAt: string;
  /** The lease every key of this registration is bound to, in hex as etcdctl prints it. */
  lease: string;
  ttl: number;
}

/** `<prefix>/v1/nodes/<node>/identity`: persistent (unleased) identity of a known node. */
export interface NodeIdentity {
  schema: typeof SCHEMA_VERSION;
  name: string;
  machineId: string;
  bootId: string;
  /** The lease of the latest registration, hex. */
  lease: string;
  registeredAt: string;
  /** Set just before a graceful leave revokes `lease`; null while registered. */
  left: { lease: string; at: string } | null;
}

/** `<prefix>/v1/services/<service>/<node>`: one endpoint, bound to the node's lease. */
export interface EndpointRecord {
  schema: typeof SCHEMA_VERSION;
  /** Stable instance id: `<node>/<service>`. */
  id: string;
  service: string;
  node: string;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  tags: string[];
  meta: Record<string, string>;
  health: EndpointHealth;
  /** Output of the check that decided `health` (capped). */
  output: string;
  /** When `health` last changed, ISO 8601. */
  since: string;
  lease: string;
  /** Each check's own status and output (empty for a service without checks; absent in an older agent's record). */
  checks?: EndpointCheck[];
}

/** One check of an endpoint, as stored in its record: the status it last changed to, with that result's output. */
export interface EndpointCheck {
  id: string;
  name: string;
  status: HealthStatus;
  /** Capped at 256 bytes with a "captured N of M bytes" note (the deciding check's whole output is the endpoint's `output`). */
  output: string;
  /** When `status` last changed, ISO 8601. */
  since: string;
}
