// The agent's composition root: identity, facts and address first (local, fast), then the
// registration loop against etcd; SIGHUP-style reloads apply the difference under the same lease.
import type { Logger } from 'pino';
import type { AgentConfig, ServiceConfig } from '../config/types.js';
import { Keys } from '../etcd/keys.js';
import { Store, type Grant } from '../etcd/store.js';
import { gatherFacts } from '../facts/host.js';
import { readIdentity, type Identity } from '../facts/identity.js';
import { selectAddress, type SelectedAddress } from '../facts/address.js';
import { encode } from '../registry/codec.js';
import { Registration, type Desired } from '../registry/registration.js';
import {
  SCHEMA_VERSION,
  type EndpointHealth,
  type EndpointRecord,
  type NodeFacts,
  type NodeIdentity,
  type NodeRecord,
} from '../types.js';
import { VERSION } from '../version.js';

// RegExps (env-file key patterns) serialise as {}: compare them by source.
function addressReplacer(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? value.source : value;
}

/** The current health of one service's endpoint, as the agent will write it. */
export interface EndpointState {
  health: EndpointHealth;
  output: string;
  since: string;
}

/** Local facts gathered before the agent talks to etcd. */
export interface LocalSetup {
  identity: Identity;
  facts: NodeFacts;
  address: SelectedAddress;
}

/** The node agent: registers the node and its services and keeps them registered. */
export class Agent {
  private config: AgentConfig;
  private readonly keys: Keys;
  private readonly startedAt = new Date().toISOString();
  private readonly registeredAt = new Map<string, string>();
  private readonly health = new Map<string, EndpointState>();
  private registration: Registration | undefined;
  private local: LocalSetup | undefined;
  private readyResolve!: (s: LocalSetup) => void;
  /** Resolves once local setup is done (config read, address chosen): systemd READY point. */
  readonly ready: Promise<LocalSetup> = new Promise((r) => (this.readyResolve = r));

  constructor(
    config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.config = config;
    this.keys = new Keys(config.prefix);
  }

  /** Run until `signal` aborts; then leave gracefully (mark leaving, revoke) and release everything. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.log.child({ component: 'agent' });
    const [identity, facts, address] = await Promise.all([
      readIdentity({ log }),
      gatherFacts({ log }),
      selectAddress(this.config.node.address, { etcdEndpoints: this.config.etcd.endpoints, log: this.log, signal }).catch(
        (err) => {
          if (signal.aborted) return undefined;
          throw err;
        },
      ),
    ]);
    if (!address) return;
    this.local = { identity, facts, address };
    this.readyResolve(this.local);
    const store = Store.connect(this.config.etcd);
    try {
      const n = this.config.node;
      this.registration = new Registration(
        store,
        this.keys,
        { node: n.name, ttl: n.ttl, keepaliveIntervalMs: n.keepaliveIntervalMs, keepaliveTimeoutMs: n.keepaliveTimeoutMs },
        { machineId: identity.machineId, bootId: identity.bootId, pid: process.pid },
        (lease, phase) => this.render(lease, phase),
        this.log.child({ component: 'registration', node: n.name }),
      );
      await this.registration.run(signal);
    } finally {
      store.close();
    }
  }

  /** Whether the node is registered right now (the agent's own truth, not etcd3's). */
  isRegistered(): boolean {
    return this.registration?.isRegistered() ?? false;
  }

  /** The current lease id (hex), if registered. */
  get leaseId(): string | undefined {
    return this.registration?.leaseId;
  }

  /**
   * Apply a new config: services, labels and the log level change under the same lease. Changes
   * to etcd, prefix, node name, TTL, keepalive or address settings need a restart; they are
   * reported in the returned list (and the log line) and not applied.
   */
  reload(next: AgentConfig): string[] {
    const ignored: string[] = [];
    const cur = this.config;
    if (JSON.stringify(next.etcd) !== JSON.stringify(cur.etcd)) ignored.push('etcd');
    if (next.prefix !== cur.prefix) ignored.push('prefix');
    if (next.node.name !== cur.node.name) ignored.push('node.name');
    if (next.node.ttl !== cur.node.ttl) ignored.push('node.ttl');
    if (next.node.keepaliveIntervalMs !== cur.node.keepaliveIntervalMs) ignored.push('node.keepaliveInterval');
    if (next.node.keepaliveTimeoutMs !== cur.node.keepaliveTimeoutMs) ignored.push('node.keepaliveTimeout');
    if (JSON.stringify(next.node.address, addressReplacer) !== JSON.stringify(cur.node.address, addressReplacer)) {
      ignored.push('node.address');
    }
    this.config = {
      ...next,
      etcd: cur.etcd,
      prefix: cur.prefix,
      node: {
        ...next.node,
        name: cur.node.name,
        ttl: cur.node.ttl,
        keepaliveIntervalMs: cur.node.keepaliveIntervalMs,
        keepaliveTimeoutMs: cur.node.keepaliveTimeoutMs,
        address: cur.node.address,
      },
    };
    this.log.level = next.log.level;
    const names = new Set(next.services.map((s) => s.name));
    for (const name of this.health.keys()) if (!names.has(name)) this.health.delete(name);
    this.log.info(
      { component: 'agent', services: next.services.map((s) => s.name), ignored },
      'config reloaded',
    );
    this.registration?.update((lease, phase) => this.render(lease, phase));
    return ignored;
  }

  /** Set a service's endpoint health; written to etcd only if it differs from what is there. */
  setHealth(service: string, state: EndpointState): void {
    const cur = this.health.get(service);
    if (cur && cur.health === state.health && cur.output === state.output) return;
    this.health.set(service, state);
    this.registration?.update((lease, phase) => this.render(lease, phase));
  }

  // Everything the node writes, for one lease. Pure given the state: re-rendering an unchanged
  // state yields identical strings, which is what keeps the steady state free of writes.
  private render(lease: Grant, phase: 'up' | 'leaving'): Desired {
    const { identity, facts, address } = this.local!;
    const cfg = this.config;
    const name = cfg.node.name;
    let registeredAt = this.registeredAt.get(lease.id);
    if (!registeredAt) {
      registeredAt = new Date().toISOString();
      this.registeredAt.clear();
      this.registeredAt.set(lease.id, registeredAt);
    }
    const node: NodeRecord = {
      schema: SCHEMA_VERSION,
      name,
      state: phase === 'leaving' ? 'leaving' : 'up',
      machineId: identity.machineId,
      bootId: identity.bootId,
      address: address.address,
      addressSource: address.source,
      addresses: address.addresses,
      labels: cfg.node.labels,
      facts,
      agentVersion: VERSION,
      pid: process.pid,
      startedAt: this.startedAt,
      registeredAt,
      lease: lease.id,
      ttl: lease.ttl,
    };
    const ident: NodeIdentity = {
      schema: SCHEMA_VERSION,
      name,
      machineId: identity.machineId,
      bootId: identity.bootId,
      lease: lease.id,
      registeredAt,
      left: phase === 'leaving' ? { lease: lease.id, at: new Date().toISOString() } : null,
    };
    const leased = new Map<string, string>([[this.keys.live(name), encode(node)]]);
    for (const svc of cfg.services) {
      leased.set(this.keys.endpoint(svc.name, name), encode(this.endpoint(svc, name, address.address, lease.id)));
    }
    return { leased, unleased: new Map([[this.keys.identity(name), encode(ident)]]) };
  }

  private endpoint(svc: ServiceConfig, node: string, nodeAddress: string, lease: string): EndpointRecord {
    const h = this.health.get(svc.name) ?? this.initialHealth(svc);
    return {
      schema: SCHEMA_VERSION,
      id: `${node}/${svc.name}`,
      service: svc.name,
      node,
      address: svc.address ?? nodeAddress,
      port: svc.port,
      protocol: svc.protocol,
      tags: svc.tags,
      meta: svc.meta,
      health: h.health,
      output: h.output,
      since: h.since,
      lease,
    };
  }

  // A service with no checks is passing; one with checks starts critical until they report.
  private initialHealth(svc: ServiceConfig): EndpointState {
    const s: EndpointState =
      svc.checks.length === 0
        ? { health: 'passing', output: 'no checks', since: this.startedAt }
        : { health: 'critical', output: 'checks not run yet', since: this.startedAt };
    this.health.set(svc.name, s);
    return s;
  }
}
