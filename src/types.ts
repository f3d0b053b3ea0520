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

// Node problems, in node-problem-detector's words: conditions (a state with a transition time) and events.

/** A condition's status, as Kubernetes spells it. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A node condition: `KernelDeadlock`, `ReadonlyFilesystem`, `MemoryPressure`, ... */
export interface Condition {
  /** PascalCase condition name. */
  type: string;
  status: ConditionStatus;
  /** PascalCase reason for the current status (`DockerHung`, `KernelHasNoDeadlock`). */
  reason: string;
  message: string;
  /** When `status` (or `reason`) last changed, ISO 8601. */
  lastTransitionTime: string;
}

/** How serious an event is: `warn` for problems, `info` for condition changes (as node-problem-detector). */
export type EventSeverity = 'info' | 'warn';

/** A node problem event; identical events are coalesced into one with a count. */
export interface ProblemEvent {
  /** Stable while the event is being coalesced: re-emitted with a higher count under the same id. Safe as a key segment. */
  id: string;
  /** The monitor that saw it (`kernel-monitor`). */
  source: string;
  reason: string;
  message: string;
  /** How many identical lines this event stands for. */
  count: number;
  /** ISO 8601 times of the first and latest occurrence. */
  firstTime: string;
  lastTime: string;
  severity: EventSeverity;
}

// The agent's other records.

/** `<prefix>/v1/nodes/<node>/conditions`: every declared condition, under the node lease. */
export interface ConditionsRecord {
  schema: typeof SCHEMA_VERSION;
  node: string;
  conditions: Condition[];
  /** Time of the newest kernel log line handled when the record was written (ISO 8601), null if none yet. */
  watermark: string | null;
  /** Boot the conditions belong to (kernel conditions reset on reboot). */
  bootId: string;
}

/** `<prefix>/v1/nodes/<node>/maintenance`: unleased, present only while something is in maintenance. */
export interface MaintenanceRecord {
  schema: typeof SCHEMA_VERSION;
  node: string;
  /** Why the whole node is in maintenance, or null. */
  reason: string | null;
  /** Services in maintenance on their own: name → reason. */
  services: Record<string, string>;
  /** When maintenance last changed (ISO 8601). */
  updatedAt: string;
}

/** `<prefix>/v1/events/<node>/<id>`: one (coalesced) node problem event, under the events lease. */
export interface EventRecord extends ProblemEvent {
  schema: typeof SCHEMA_VERSION;
  node: string;
}

// The watcher's records: event types, the node status it keeps, events and reactions.

/** Every event type the watcher raises (schema/v1/watcher-event.json lists the same). */
export const EVENT_TYPES = [
  'NodeJoined',
  'NodeFailed',
  'NodeLeft',
  'NodeRecovered',
  'NodeRebooted',
  'PartitionSuspected',
  'LeaseRevoked',
] as const;

/** One of EVENT_TYPES. */
export type EventType = (typeof EVENT_TYPES)[number];

/** A node as the watcher records it: registered (`up`, `leaving`) or gone (`left` gracefully, `failed`). */
export type WatchedState = 'up' | 'leaving' | 'left' | 'failed';

/**
 * How a transition was noticed: a watch event, a comparison after a gap (start, reconnect, takeover), or
 * the leader's lease audit (an expired lease etcd did not revoke).
 */
export type DetectedBy = 'watch' | 'resync' | 'audit';

/** Why the watcher put a lost lease down to etcd rather than to its holder (LeaseRevoked). */
export interface RevocationEvidence {
  /** Witness leases this watcher kept alive that etcd revoked around the same time. */
  witnessesRevoked: number;
  /** The etcd raft term went up this long before the delete (undefined: no change seen recently). */
  termChangedMsBefore?: number;
  /** The node registered again this long after its lease was seen gone (absent when a new leader found it back already). */
  reregisteredAfterMs?: number;
}

/** `<prefix>/v1/watcher/status/<node>`: the leader's record of one node (unleased, one writer). */
export interface StatusRecord {
  schema: typeof SCHEMA_VERSION;
  node: string;
  state: WatchedState;
  /** When `state` last changed, ISO 8601. */
  since: string;
  /** When the watcher last saw the node's registration present, ISO 8601. */
  lastSeen: string;
  reason: string;
  /** The registration (lease, hex) the state is about: for `failed`/`left` the lost one. */
  lease: string;
  bootId: string;
  address: string;
}

/** What became of one hook for one event: recorded in the reaction and copied into the event. */
export type HookOutcome =
  | { state: 'pending' }
  | { state: 'ok'; attempts: number; durationMs: number; output: string }
  | {
      state: 'failed' | 'timeout';
      attempts: number;
      durationMs: number;
      output: string;
      exitCode?: number;
      httpStatus?: number;
      error?: string;
    }
  | { state: 'suppressed'; why: SuppressReason; detail: string };

/** Why a hook did not run. */
export type SuppressReason = 'mass-failure' | 'cooldown' | 'recovered' | 'hook-removed';

/** `<prefix>/v1/watcher/events/<id>`: one event (retention lease); also printed as one JSON line. */
export interface NodeEvent {
  schema: typeof SCHEMA_VERSION;
  /** Idempotency key: `<node>.<lease>.<type>` (the registration it is about), or `PartitionSuspected.<ms>`. */
  id: string;
  event: EventType;
  /** The node's name; `*` for PartitionSuspected. */
  node: string;
  time: string;
  reason: string;
  detectedBy: DetectedBy;
  lease: string;
  bootId: string;
  address: string;
  /** The state before the transition (`unknown` when no watcher had seen the node). */
  previous: WatchedState | 'unknown';
  /** NodeRecovered: time spent failed. */
  downtimeMs?: number;
  /** NodeRebooted: the boot id before. */
  previousBootId?: string;
  /** LeaseRevoked: what showed that etcd, not the node, ended the registration. */
  evidence?: RevocationEvidence;
  /** PartitionSuspected: the nodes failed within the window, and the counts that tripped the guard. */
  nodes?: string[];
  failed?: number;
  known?: number;
  /** Outcome per hook name, filled in as reactions finish. */
  hooks: Record<string, HookOutcome>;
}

/** Progress of a reaction: created pending with the event, advanced only by compare-and-swap. */
export type ReactionState = 'pending' | 'running' | 'done' | 'failed' | 'suppressed';

/** One attempt of a hook, as recorded (output capped). */
export interface AttemptRecord {
  attempt: number;
  owner: string;
  startedAt: string;
  state: 'ok' | 'failed' | 'timeout' | 'interrupted';
  durationMs: number;
  exitCode?: number;
  httpStatus?: number;
  output: string;
  error?: string;
}

/** `<prefix>/v1/watcher/reactions/<event id>.<hook>`: exactly-once progress of one hook for one event. */
export interface ReactionRecord {
  schema: typeof SCHEMA_VERSION;
  id: string;
  hook: string;
  /** The event as raised (without hook outcomes): a new leader needs nothing else to resume. */
  event: Omit<NodeEvent, 'hooks'>;
  state: ReactionState;
  /** Not to be started before this time (the mass-failure hold), ISO 8601. */
  notBefore: string;
  /** The watcher running it and the election lease it held when it started. */
  owner: { id: string; lease: string } | null;
  attempts: AttemptRecord[];
  outcome: HookOutcome;
  createdAt: string;
  updatedAt: string;
}

/** One thing that happened to a node, as stored and as `beacon explain` shows it. */
export interface HistoryEntry {
  /** When it happened (or was seen), ISO 8601. */
  time: string;
  /** A PascalCase word: an event type (`NodeFailed`), `Hook`, `HookHeld`, `EtcdLeaderChanged`, `PartitionSuspected`. */
  what: string;
  /** One line of text, no control characters (escaped), at most MAX_DETAIL characters. */
  detail: string;
  /** The watcher event (or reaction) id the entry is about: readers drop events already told by the history. */
  id?: string;
  /** The etcd revision of the change, when the watcher saw it in a watch event. */
  revision?: string;
}

/** `<prefix>/v1/watcher/history/<node>` (schema/v1/watcher-history.json). */
export interface HistoryRecord {
  schema: typeof SCHEMA_VERSION;
  node: string;
  /** Oldest first. */
  entries: HistoryEntry[];
  updatedAt: string;
}

/** What a service reserves (src/config/resources.ts): null for a resource it does not declare. */
export interface ServiceResources {
  /** Cores (millicore precision). */
  cpu: number | null;
  memoryBytes: number | null;
}

/** Where a service's processes are measured (src/usage/): a systemd unit or a cgroup path. */
export type UsageSource = { kind: 'unit'; unit: string } | { kind: 'cgroup'; path: string };

/** Figures averaged over a window: cores and bytes. */
export interface UsageFigures {
  cpu: number;
  memoryBytes: number;
}

/** One service in the usage record. */
export interface ServiceUsage {
  /** What the config reserves; null for a resource it does not declare. */
  reserved: { cpu: number | null; memoryBytes: number | null };
  /** `cgroup:/path` or `unit:name.service`; null when the service declares no source. */
  source: string | null;
  /** Average over the window; null until the window has filled, without a source, or on error. */
  used: UsageFigures | null;
  /** Why the source could not be read; null when it could (or there is none). */
  error: string | null;
}

/** `<prefix>/v1/nodes/<node>/usage`, bound to the node lease. */
export interface NodeUsageRecord {
  schema: 1;
  node: string;
  /** When these figures were published. */
  at: string;
  windowSeconds: number;
  capacity: UsageFigures;
  /** The node's own use averaged over the window; null until it has filled. */
  used: UsageFigures | null;
  services: Record<string, ServiceUsage>;
}
