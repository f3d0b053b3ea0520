// The agent's composition root. Start order: the kernel rule file (a bad one is a config error), local
// setup (identity, facts, address: fast, no etcd), health checks and the local API (local, so they run
// while etcd is away), then the previous run's state from etcd (maintenance, conditions, events), node
// problem monitors, and the registration loop. Shutdown is the reverse: leave (mark leaving, revoke),
// then stop checks, monitors and the API. SIGHUP-style reloads apply the difference under the same lease.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { HealthChecks } from '../checks/health-checks.js';
import { loadKernelRules } from '../config/problems.js';
import type { AgentConfig } from '../config/types.js';
import { Keys } from '../etcd/keys.js';
import { Store, type Grant } from '../etcd/store.js';
import { gatherFacts } from '../facts/host.js';
import { UtilizationTracker, sampleUtilization } from '../facts/utilization.js';
import { readIdentity } from '../facts/identity.js';
import { selectAddress } from '../facts/address.js';
import type { RuleSet } from '../problems/rules.js';
import { Registration, type Desired } from '../registry/registration.js';
import type { HealthStatus, NodeUtilization } from '../types.js';
import { sleep } from '../util/time.js';
import { AgentApi, UnknownServiceError, type AgentApiHandler, type MaintenanceState } from './api.js';
import { leaseRecords, type LocalSetup } from './lease-records.js';
import { MaintenanceMarker } from './maintenance.js';
import { NodeProblems } from './problems.js';
import type { AgentMetrics, AgentState } from '../metrics/agent-metrics.js';
import { restorePrevious } from './restore.js';
import { DEFAULT_CAPACITY } from '../config/capacity.js';
import { UsageMonitor } from './usage-monitor.js';

// RegExps (env-file key patterns) serialise as {}: compare them by source.
function addressReplacer(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? value.source : value;
}

/** The node agent: registers the node and its services, keeps them registered, runs their checks. */
export class Agent implements AgentApiHandler {
  private config: AgentConfig;
  private readonly keys: Keys;
  private readonly startedAt = new Date().toISOString();
  /** The lease last written and when it was first written: a new lease gets a new registeredAt. */
  private registered: { lease: string; at: string } | undefined;
  /** Every service's checks, endpoint health and maintenance. */
  private readonly checks: HealthChecks;
  private readonly maint: MaintenanceMarker;
  private problems: NodeProblems | undefined;
  private registration: Registration | undefined;
  private local: LocalSetup | undefined;
  /** Resource use of services declaring resources, unit or cgroup (src/usage/); created in run(). */
  private usage: UsageMonitor | undefined;
  /** Coarse utilization as last published (src/facts/utilization.ts); undefined before the first sample. */
  private utilization: NodeUtilization | undefined;
  private readyResolve!: (s: LocalSetup) => void;
  /** Resolves once local setup is done (config read, address chosen): systemd READY point. */
  readonly ready: Promise<LocalSetup> = new Promise((r) => (this.readyResolve = r));

  constructor(
    config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.config = config;
    this.keys = new Keys(config.prefix);
    this.checks = new HealthChecks({ services: config.services, log, onChange: () => this.rewrite() });
    this.maint = new MaintenanceMarker(this.checks, this.startedAt);
  }

  /**
   * Run until `signal` aborts; then leave gracefully (mark leaving, revoke) and release everything.
   * Rejects with a ConfigError, before anything starts, when the kernel rule file is invalid.
   */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.log.child({ component: 'agent' });
    const kernel = this.config.problems?.kernel;
    const rules: RuleSet | undefined = kernel ? await loadKernelRules(kernel) : undefined;
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

    // Everything started below stops with `stop`, also when something throws on the way.
    const stop = new AbortController();
    setMaxListeners(0, stop.signal); // one listener per service's checks, plus the API and monitors
    const onAbort = () => stop.abort();
    if (signal.aborted) stop.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const tasks: Promise<void>[] = [this.checks.run(stop.signal)];
    if (this.config.api) {
      const api = new AgentApi(this.config.api, this, this.log);
      try {
        await api.listen();
        tasks.push(api.run(stop.signal));
      } catch (err) {
        // Registration matters more than the API: go on without it (ttl checks will expire, maint fails).
        log.error({ err }, 'local API not started');
      }
    }
    // Sampled from the start, so the first window fills while the agent registers.
    this.usage = new UsageMonitor(
      {
        node: this.config.node.name,
        capacity: { cpu: facts.cpus, memoryBytes: facts.memoryBytes },
        config: this.config.capacity ?? DEFAULT_CAPACITY,
        log: this.log,
        onPublish: () => this.rewrite(),
      },
      this.config.services,
    );
    // One sample before the first registration: its record goes into the same write.
    if (this.usage.active) await this.usage.sample(stop.signal);
    tasks.push(this.usage.run(stop.signal, { sampled: this.usage.active }));
    // Metrics are optional like the API: a port in use is logged, registration goes on.
    let metrics: AgentMetrics | undefined;
    if (this.config.metrics) {
      // Loaded only when configured: most agents are never scraped and need not carry prom-client.
      const [{ agentEndpoint }, { AgentMetrics }, { createRegistry }] = await Promise.all([
        import('../metrics/agent-endpoint.js'),
        import('../metrics/agent-metrics.js'),
        import('../metrics/registry.js'),
      ]);
      const registry = createRegistry();
      metrics = new AgentMetrics(registry, this.metricsState());
      const health = () => ({ node: this.config.node.name, registered: this.isRegistered(), lease: this.leaseId });
      const endpoint = agentEndpoint(this.config.metrics.listen, registry, health, this.log);
      try {
        await endpoint.listen();
        tasks.push(endpoint.run(stop.signal));
      } catch (err) {
        log.error({ err }, 'metrics endpoint not started');
      }
    }
    // The first sample before the first registration, so that it does not cause a second write.
    const tracker = new UtilizationTracker({ cpus: facts.cpus });
    this.utilization = tracker.update(await sampleUtilization(), Date.now());
    tasks.push(this.followUtilization(tracker, stop.signal));
    const store = Store.connect(this.config.etcd);
    try {
      const n = this.config.node;
      const restore = await restorePrevious(
        { store, keys: this.keys, node: n.name, bootId: identity.bootId, problems: this.config.problems, maintenance: this.maint, log: this.log },
        stop.signal,
      );
      if (!restore) return;
      const problems = this.config.problems;
      if (problems) {
        this.problems = new NodeProblems({
          config: problems,
          rules,
          node: n.name,
          bootId: identity.bootId,
          store,
          keys: this.keys,
          log: this.log,
          restore,
          onChange: () => this.rewrite(),
          ...(metrics ? { onEvents: (evs) => metrics.problemEvents(evs) } : {}),
        });
        tasks.push(this.problems.run(stop.signal));
      }
      this.registration = new Registration(
        store,
        this.keys,
        { node: n.name, ttl: n.ttl, keepaliveIntervalMs: n.keepaliveIntervalMs, keepaliveTimeoutMs: n.keepaliveTimeoutMs },
        { machineId: identity.machineId, bootId: identity.bootId, pid: process.pid },
        (lease, phase) => this.recordsFor(lease, phase),
        this.log.child({ component: 'registration', node: n.name }),
      );
      metrics?.observeRegistration(this.registration);
      await this.registration.run(stop.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      await Promise.allSettled(tasks);
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

  /** Node problem detection, when configured and started (tests, benchmarks). */
  get nodeProblems(): NodeProblems | undefined {
    return this.problems;
  }

  /**
   * Apply a new config: services (and their checks), labels and the log level change under the same
   * lease; a service whose checks changed gets new checks (back to their initial status), the others
   * keep theirs. Changes to etcd, prefix, node name, TTL, keepalive, address, problems, api or metrics settings
   * need a restart: they are reported in the returned list (and the log line) and not applied.
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
    if (JSON.stringify(next.problems) !== JSON.stringify(cur.problems)) ignored.push('problems');
    if (JSON.stringify(next.api) !== JSON.stringify(cur.api)) ignored.push('api');
    if (JSON.stringify(next.metrics) !== JSON.stringify(cur.metrics)) ignored.push('metrics');
    if (JSON.stringify(next.capacity) !== JSON.stringify(cur.capacity)) ignored.push('capacity');
    this.config = {
      ...next,
      etcd: cur.etcd,
      prefix: cur.prefix,
      problems: cur.problems,
      api: cur.api,
      metrics: cur.metrics ?? null,
      ...(cur.capacity ? { capacity: cur.capacity } : {}),
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
    for (const service of this.checks.setServices(next.services)) {
      const checks = next.services.find((s) => s.name === service)!.checks.length;
      this.log.info({ component: 'agent', service, checks }, 'checks replaced');
    }
    this.usage?.setServices(next.services);
    this.log.info(
      { component: 'agent', services: next.services.map((s) => s.name), ignored },
      'config reloaded',
    );
    this.rewrite();
    return ignored;
  }

  // What the metrics read at each scrape: the agent's state now.
  private metricsState(): AgentState {
    return {
      isRegistered: () => this.isRegistered(),
      checkStatuses: () => [...this.checks.checkStates()].map(([check, st]) => ({ service: st.service, check, status: st.status })),
      endpointHealth: () => [...this.checks.health.all()].map(([service, h]) => ({ service, health: h.health })),
      conditions: () => this.problems?.record().conditions ?? [],
      usage: () => (this.usage?.active ? this.usage.live() : undefined),
    };
  }

  /** Record a ttl check report (local API, `beacon check`); throws UnknownCheckError for other ids. */
  reportCheck(id: string, status: HealthStatus, note: string): void {
    this.checks.report(id, status, note);
  }

  /** What is in maintenance now. */
  maintenance(): MaintenanceState {
    return this.maint.state();
  }

  /**
   * Maintenance on (`reason`) or off (null) for one service, or the whole node when `service` is
   * undefined; stored in etcd (unleased) and applied to the endpoints' health at once.
   */
  setMaintenance(service: string | undefined, reason: string | null, note?: string): MaintenanceState {
    if (service !== undefined && reason !== null && !this.config.services.some((s) => s.name === service)) {
      throw new UnknownServiceError(service);
    }
    const next = this.maint.set(service, reason);
    if (next) {
      this.log.info({ component: 'agent', service, reason, note, maintenance: next }, 'maintenance changed');
      this.rewrite();
    }
    return this.maintenance();
  }

  // Sample utilization every 30 s; rewrite only when the tracker publishes new coarse values (a
  // whole step moved, at most every 5 min), so a steady node still writes nothing.
  private async followUtilization(tracker: UtilizationTracker, signal: AbortSignal): Promise<void> {
    for (;;) {
      await sleep(30_000, signal);
      if (signal.aborted) return;
      const next = tracker.update(await sampleUtilization(), Date.now());
      if (next) {
        this.utilization = next;
        this.rewrite();
      }
    }
  }

  // Something the records are made of changed: the registration writes the difference.
  private rewrite(): void {
    this.registration?.update((lease, phase) => this.recordsFor(lease, phase));
  }

  // Everything the node writes for one lease, from the state now (src/agent/lease-records.ts).
  private recordsFor(lease: Grant, phase: 'up' | 'leaving'): Desired {
    if (this.registered?.lease !== lease.id) this.registered = { lease: lease.id, at: new Date().toISOString() };
    const name = this.config.node.name;
    const usage = this.usage?.record();
    const maintenance = this.maint.record(name);
    return leaseRecords(
      {
        config: this.config,
        keys: this.keys,
        local: this.local!,
        startedAt: this.startedAt,
        registeredAt: this.registered.at,
        ...(this.utilization ? { utilization: this.utilization } : {}),
        health: (service) => this.checks.health.get(service),
        ...(this.problems ? { conditions: this.problems.record() } : {}),
        ...(usage ? { usage } : {}),
        ...(maintenance ? { maintenance } : {}),
      },
      lease,
      phase,
    );
  }
}
