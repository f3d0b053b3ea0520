// beacon's client library: read the registry from another Node program with the same settings as the CLI.
//
//   import { connect } from 'beacon/client';
//   const client = await connect({ etcd: 'http://10.0.0.1:2379' });
//   const eps = await client.listEndpoints('web', { passingOnly: true });
//   await client.watchEndpoints('web', (s) => console.log(s.endpoints.map((e) => `${e.address}:${e.port}`)), { signal });
//   client.close();
//
// docs/consumers.md is the guide. Nothing here exits the process or prints.
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseClientConfig, readConfigFile, type ClientConfig } from '../config/load.js';
import { Keys, isValidName } from '../etcd/keys.js';
import { Store, type KeyValue } from '../etcd/store.js';
import type { DecodeError } from '../errors.js';
import { buildSnapshot, nodeViews, readRegistry, type NodeView } from '../registry/reader.js';
import type { EndpointRecord } from '../types.js';
import { follow, type FollowStore } from './follow.js';

export type { NodeView, NodeStatus } from '../registry/reader.js';
export type { EndpointRecord, EndpointHealth, NodeRecord, NodeFacts } from '../types.js';
export type { ClientConfig } from '../config/load.js';

/** How to reach beacon's data: the CLI's options (`--config`, `--etcd`, `--prefix`, `BEACON_*`/`ETCDCTL_*` env). */
export interface ConnectOptions {
  /** A beacon config file (YAML or JSON); only its `etcd` and `prefix` sections are used. */
  config?: string;
  /** A config document already parsed (same shape as the file), used when `config` is absent. */
  document?: unknown;
  /** etcd endpoints, comma-separated or a list; wins over the file and the environment (like `--etcd`). */
  etcd?: string | string[];
  /** Key prefix (default `/beacon`); wins over the file and the environment (like `--prefix`). */
  prefix?: string;
  /** Environment read for `BEACON_*` and `ETCDCTL_*` (default `process.env`; pass `{}` to ignore it). */
  env?: NodeJS.ProcessEnv;
}

/** Options of listEndpoints. */
export interface ListEndpointsOptions {
  /** Only endpoints whose health is `passing`. */
  passingOnly?: boolean;
}

/** One full view of a service's endpoints, as delivered by watchEndpoints. */
export interface EndpointSnapshot {
  service: string;
  /** Every endpoint (or every passing one), sorted by node: the whole set, never a delta. */
  endpoints: EndpointRecord[];
  /** The etcd revision the set reflects. */
  revision: string;
  /** Keys under the service that could not be decoded (skipped, never thrown). */
  errors: DecodeError[];
}

/** Options of watchEndpoints. */
export interface WatchEndpointsOptions extends ListEndpointsOptions {
  /** Stops the watch; watchEndpoints resolves once everything it started is released. */
  signal: AbortSignal;
  /** Changes closer together than this are delivered as one snapshot (default 100 ms). */
  debounceMs?: number;
  /** How often etcd is probed while quiet, to notice a hung etcd (default 2000 ms). */
  probeIntervalMs?: number;
  /** The view had a gap (etcd not answering, the watch broken or cancelled by a compaction): the last snapshot stays the best knowledge until a fresh listing, reported with undefined. */
  onOutage?: (err: Error | undefined) => void;
}

/** Validate a service name before it becomes a key segment. */
function checkService(service: string): void {
  if (!isValidName(service)) throw new RangeError(`invalid service name ${JSON.stringify(service)}`);
}

/** Resolve the CLI's settings into a ClientConfig (file, then environment, then explicit options win). */
export async function resolveConfig(opts: ConnectOptions = {}): Promise<ClientConfig> {
  const raw = opts.config !== undefined ? await readConfigFile(opts.config) : opts.document;
  const etcd = Array.isArray(opts.etcd) ? opts.etcd.join(',') : opts.etcd;
  return parseClientConfig(raw, {
    env: opts.env ?? process.env,
    overrides: { ...(etcd !== undefined ? { etcd } : {}), ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}) },
    hostname: hostname(),
    ...(opts.config !== undefined ? { baseDir: dirname(resolve(opts.config)) } : {}),
  });
}

/** Connect to beacon's registry (lazily: the first call opens the connection). Throws ConfigError on bad options. */
export async function connect(opts: ConnectOptions = {}): Promise<BeaconClient> {
  const config = await resolveConfig(opts);
  return new BeaconClient(Store.connect(config.etcd), new Keys(config.prefix), config);
}

/** Endpoints of `service` in a map of raw keys (decoded, sorted, optionally passing only). */
export function endpointsOf(keys: Keys, kvs: Iterable<KeyValue>, opts: ListEndpointsOptions = {}): { endpoints: EndpointRecord[]; errors: DecodeError[] } {
  const snap = buildSnapshot(keys, [...kvs]);
  const endpoints = opts.passingOnly ? snap.endpoints.filter((e) => e.health === 'passing') : snap.endpoints;
  return { endpoints, errors: snap.errors };
}

/** A handle on the registry. Errors are beacon's: EtcdUnavailableError when etcd does not answer. */
export class BeaconClient {
  /** @internal Use `connect`. */
  constructor(
    private readonly store: Store,
    /** Key builder for the configured prefix. */
    readonly keys: Keys,
    /** The resolved settings. */
    readonly config: ClientConfig,
  ) {}

  /** Every known node (registered, left, failed), sorted by name; undecodable keys are skipped. */
  async listNodes(): Promise<NodeView[]> {
    return nodeViews(await readRegistry(this.store, this.keys));
  }

  /** A service's endpoints (one prefix read), sorted by node. */
  async listEndpoints(service: string, opts: ListEndpointsOptions = {}): Promise<EndpointRecord[]> {
    checkService(service);
    const { kvs } = await this.store.list(this.keys.service(service));
    return endpointsOf(this.keys, kvs, opts).endpoints;
  }

  /**
   * Deliver full snapshots of a service's endpoints until `opts.signal` aborts: the first as soon as it is
   * listed, then one after each burst of changes (debounced), only when the set differs from the last one
   * delivered. After a reconnect, a compaction or a hung etcd (noticed by a probe every ~2 s) the service is
   * listed again, so a snapshot is never partial or stale. Resolves when stopped; `onSnapshot` must not throw.
   */
  async watchEndpoints(service: string, onSnapshot: (s: EndpointSnapshot) => void, opts: WatchEndpointsOptions): Promise<void> {
    checkService(service);
    return watchEndpointsOn(this.store, this.keys, service, onSnapshot, opts);
  }

  /** Release the connection; pending calls fail. */
  close(): void {
    this.store.close();
  }
}

/** watchEndpoints over any FollowStore (the seam tests use to force gaps). */
export async function watchEndpointsOn(
  store: FollowStore & { requestTimeoutMs?: number },
  keys: Keys,
  service: string,
  onSnapshot: (s: EndpointSnapshot) => void,
  opts: WatchEndpointsOptions,
): Promise<void> {
  const debounceMs = opts.debounceMs ?? 100;
  let delivered: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pending: { kvs: KeyValue[]; revision: string } | undefined;
  const deliver = () => {
    timer = undefined;
    if (!pending || opts.signal.aborted) return;
    const { endpoints, errors } = endpointsOf(keys, pending.kvs, opts);
    const revision = pending.revision;
    pending = undefined;
    const fingerprint = JSON.stringify(endpoints);
    if (fingerprint === delivered) return;
    delivered = fingerprint;
    onSnapshot({ service, endpoints, revision, errors });
  };
  try {
    await follow(
      store,
      keys.service(service),
      {
        ...(opts.probeIntervalMs !== undefined ? { probeIntervalMs: opts.probeIntervalMs } : {}),
        ...(store.requestTimeoutMs !== undefined ? { requestTimeoutMs: store.requestTimeoutMs } : {}),
        ...(opts.onOutage ? { onOutage: opts.onOutage } : {}),
        onState: (kvs, cause, revision) => {
          // Copy now: the follower keeps mutating its map.
          pending = { kvs: [...kvs.values()], revision };
          if (cause === 'list' && delivered === undefined) {
            clearTimeout(timer);
            deliver();
          } else if (!timer) {
            timer = setTimeout(deliver, debounceMs);
          }
        },
      },
      opts.signal,
    );
  } finally {
    clearTimeout(timer);
  }
}
