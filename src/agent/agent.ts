// The agent's composition root. Start order: the kernel rule file (a bad one is a config error), local
// setup (identity, facts, address: fast, no etcd), health checks and the local API (local, so they run
// while etcd is away), then the previous run's state from etcd (maintenance, conditions, events), node
// problem monitors, and the registration loop. Shutdown is the reverse: leave (mark leaving, revoke),
// then stop checks, monitors and the API. SIGHUP-style reloads apply the difference under the same lease.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { HealthChecks } from '../checks/health-checks.js';
import type { EndpointHealthState } from '../checks/health.js';
import { UnknownCheckError } from '../checks/ttl.js';
import { loadKernelRules } from '../config/problems.js';
import type { AgentConfig, ServiceConfig } from '../config/types.js';
import { EtcdUnavailableError, type DecodeError } from '../errors.js';
import { Keys, SkyDnsKeys, dnsService } from '../etcd/keys.js';
import { dnsInstance } from '../config/dns.js';
import { Store, type Grant } from '../etcd/store.js';
import { gatherFacts } from '../facts/host.js';
import { UtilizationTracker, sampleUtilization } from '../facts/utilization.js';
import { readIdentity, type Identity } from '../facts/identity.js';
import { selectAddress, type SelectedAddress } from '../facts/address.js';
import type { RuleSet } from '../problems/rules.js';
import { encode } from '../registry/codec.js';
import { Registration, type Desired } from '../registry/registration.js';
import {
  SCHEMA_VERSION,
  type EndpointRecord,
  type HealthStatus,
  type NodeFacts,
  type NodeIdentity,
  type NodeUtilization,
} from '../types.js';
import { Backoff, sleep } from '../util/time.js';
import { escapeText } from '../util/text.js';
import { AgentApi, UnknownServiceError, type AgentApiHandler, type MaintenanceState } from './api.js';
import { NodeProblems, type ProblemsRestore } from './problems.js';
import type { AgentMetrics, AgentState } from '../metrics/agent-metrics.js';
import { decodeConditions, decodeMaintenance, endpointRecord, eventLastTime, nodeRecord, type MaintenanceRecord } from './records.js';
import { readLocalState } from './state-file.js';
import { DEFAULT_CAPACITY } from '../config/capacity.js';
import { UsageMonitor } from './usage-monitor.js';

// RegExps (env-file key patterns) serialise as {}: compare them by source.
function addressReplacer(_key: string, value: unknown): unknown {
  return value instanceof RegExp ? value.source : value;
}

/** The current health of one service's endpoint, as the agent will write it. */
export type EndpointState = EndpointHealthState;

/** Local facts gathered before the agent talks to etcd. */
export interface LocalSetup {
  identity: Identity;
  facts: NodeFacts;
  address: SelectedAddress;
}

/** One service's checks, run on their own so a reload can replace them without touching the others. */
interface ServiceChecks {
  checks: HealthChecks;
  /** The service's checks as configured: a reload rebuilds them only when this changes. */
  signature: string;
  stop: AbortController;
}

/** The node agent: registers the node and its services, keeps them registered, runs their checks. */
export class Agent implements AgentApiHandler {
  private config: AgentConfig;
  private readonly keys: Keys;
  private readonly startedAt = new Date().toISOString();
  private readonly registeredAt = new Map<string, string>();
  private readonly health = new Map<string, EndpointState>();
  private readonly serviceChecks = new Map<string, ServiceChecks>();
  /** Every checks run not finished yet, including those a reload replaced. */
  private readonly checkRuns = new Set<Promise<void>>();
  private maint: MaintenanceState = { node: null, services: {} };
  private maintUpdatedAt = this.startedAt;
  /** Maintenance changes made through the API before the etcd copy was read: replayed on top of it. */
  private maintEarly: [string | undefined, string | null][] | undefined = [];
  private problems: NodeProblems | undefined;
  private registration: Registration | undefined;
  private local: LocalSetup | undefined;
  private checksSignal: AbortSignal | undefined;
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
    const tasks: Promise<void>[] = [];
    this.checksSignal = stop.signal;
    for (const svc of this.config.services) this.startChecks(svc);
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
        onPublish: () => this.registration?.update((lease, phase) => this.render(lease, phase)),
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
      const restore = await this.restore(store, identity, stop.signal);
      if (!restore) return;
      const problems = this.config.problems;
      if (problems) {
        this.problems = new NodeProblems({
          config: problems,
          rules,
          node: this.config.node.name,
          bootId: identity.bootId,
          store,
          keys: this.keys,
          log: this.log,
          restore,
          onChange: () => this.registration?.update((lease, phase) => this.render(lease, phase)),
          ...(metrics ? { onEvents: (evs) => metrics.problemEvents(evs) } : {}),
        });
        tasks.push(this.problems.run(stop.signal));
      }
      const n = this.config.node;
      this.registration = new Registration(
        store,
        this.keys,
        { node: n.name, ttl: n.ttl, keepaliveIntervalMs: n.keepaliveIntervalMs, keepaliveTimeoutMs: n.keepaliveTimeoutMs },
        { machineId: identity.machineId, bootId: identity.bootId, pid: process.pid },
        (lease, phase) => this.render(lease, phase),
        this.log.child({ component: 'registration', node: n.name }),
      );
      metrics?.observeRegistration(this.registration);
      await this.registration.run(stop.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      // Checks replaced by a reload may still be finishing (an exec check's process group): wait for all.
      await Promise.allSettled([...tasks, ...this.checkRuns]);
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
    const names = new Set(next.services.map((s) => s.name));
    for (const [name, sc] of this.serviceChecks) {
      if (names.has(name)) continue;
      sc.stop.abort();
      this.serviceChecks.delete(name);
      this.health.delete(name);
    }
    this.usage?.setServices(next.services);
    // Before run() starts them, checks are built from the config then in force.
    if (this.checksSignal) for (const svc of next.services) this.startChecks(svc);
    this.log.info(
      { component: 'agent', services: next.services.map((s) => s.name), ignored },
      'config reloaded',
    );
    this.registration?.update((lease, phase) => this.render(lease, phase));
    return ignored;
  }

  // What the metrics read at each scrape: the agent's state now.
  private metricsState(): AgentState {
    return {
      isRegistered: () => this.isRegistered(),
      checkStatuses: () =>
        [...this.serviceChecks.values()].flatMap((sc) =>
          [...sc.checks.checkStates()].map(([check, st]) => ({ service: st.service, check, status: st.status })),
        ),
      endpointHealth: () => [...this.health].map(([service, h]) => ({ service, health: h.health })),
      conditions: () => this.problems?.record().conditions ?? [],
      usage: () => (this.usage?.active ? this.usage.live() : undefined),
    };
  }

  /** Set a service's endpoint health; written to etcd only if it differs from what is there. */
  setHealth(service: string, state: EndpointState): void {
    const cur = this.health.get(service);
    if (cur && cur.health === state.health && cur.output === state.output && JSON.stringify(cur.checks) === JSON.stringify(state.checks)) return;
    this.health.set(service, state);
    this.registration?.update((lease, phase) => this.render(lease, phase));
  }

  /** Record a ttl check report (local API, `beacon check`); throws UnknownCheckError for other ids. */
  reportCheck(id: string, status: HealthStatus, note: string): void {
    for (const svc of this.config.services) {
      if (!svc.checks.some((c) => c.id === id && c.kind === 'ttl')) continue;
      const sc = this.serviceChecks.get(svc.name);
      if (sc) return sc.checks.board.report(id, status, note);
    }
    throw new UnknownCheckError(id);
  }

  /** What is in maintenance now. */
  maintenance(): MaintenanceState {
    return { node: this.maint.node, services: { ...this.maint.services } };
  }

  /**
   * Maintenance on (`reason`) or off (null) for one service, or the whole node when `service` is
   * undefined; stored in etcd (unleased) and applied to the endpoints' health at once.
   */
  setMaintenance(service: string | undefined, reason: string | null, note?: string): MaintenanceState {
    if (service !== undefined && reason !== null && !this.config.services.some((s) => s.name === service)) {
      throw new UnknownServiceError(service);
    }
    this.maintEarly?.push([service, reason]);
    const next = withMaintenance(this.maint, service, reason);
    if (JSON.stringify(next) !== JSON.stringify(this.maint)) {
      this.log.info({ component: 'agent', service, reason, note, maintenance: next }, 'maintenance changed');
      this.applyMaintenance(next);
      this.maintUpdatedAt = new Date().toISOString();
      this.registration?.update((lease, phase) => this.render(lease, phase));
    }
    return this.maintenance();
  }

  // Sample utilization every 30 s; re-render only when the tracker publishes new coarse values (a
  // whole step moved, at most every 5 min), so a steady node still writes nothing.
  private async followUtilization(tracker: UtilizationTracker, signal: AbortSignal): Promise<void> {
    for (;;) {
      await sleep(30_000, signal);
      if (signal.aborted) return;
      const next = tracker.update(await sampleUtilization(), Date.now());
      if (next) {
        this.utilization = next;
        this.registration?.update((lease, phase) => this.render(lease, phase));
      }
    }
  }

  // Start (or keep, when unchanged) one service's checks.
  private startChecks(svc: ServiceConfig): void {
    const signature = JSON.stringify(svc.checks);
    const cur = this.serviceChecks.get(svc.name);
    if (cur?.signature === signature) return;
    cur?.stop.abort();
    const checks = new HealthChecks({
      services: [{ name: svc.name, checks: svc.checks }],
      log: this.log,
      onChange: (service, state) => this.setHealth(service, state),
      maintenance: {
        node: this.maint.node,
        services: this.maint.services[svc.name] !== undefined ? { [svc.name]: this.maint.services[svc.name]! } : {},
      },
    });
    const stop = new AbortController();
    // Every check's runner waits on this signal: many checks are not a listener leak.
    setMaxListeners(0, stop.signal);
    const parent = this.checksSignal!;
    const onParent = () => stop.abort();
    if (parent.aborted) stop.abort();
    else {
      parent.addEventListener('abort', onParent, { once: true });
      stop.signal.addEventListener('abort', () => parent.removeEventListener('abort', onParent), { once: true });
    }
    const done = checks.run(stop.signal).catch((err: unknown) => this.log.error({ component: 'agent', err, service: svc.name }, 'checks stopped'));
    this.checkRuns.add(done);
    void done.finally(() => this.checkRuns.delete(done));
    this.serviceChecks.set(svc.name, { checks, signature, stop });
    this.health.set(svc.name, checks.health.get(svc.name)!);
    if (cur) this.log.info({ component: 'agent', service: svc.name, checks: svc.checks.length }, 'checks replaced');
  }

  private applyMaintenance(next: MaintenanceState): void {
    const prev = this.maint;
    this.maint = next;
    for (const [name, sc] of this.serviceChecks) {
      if (prev.node !== next.node) sc.checks.setMaintenance(undefined, next.node);
      const was = prev.services[name] ?? null;
      const now = next.services[name] ?? null;
      if (was !== now) sc.checks.setMaintenance(name, now);
    }
  }

  // Read what the previous run left in etcd (maintenance, conditions, events) and on disk, retrying
  // until etcd answers: maintenance must be known before the first registration, or the endpoints
  // would flash "passing". Resolves undefined when aborted first.
  private async restore(store: Store, identity: Identity, signal: AbortSignal): Promise<ProblemsRestore | undefined> {
    const node = this.config.node.name;
    const log = this.log.child({ component: 'agent' });
    const problems = this.config.problems;
    const local = problems?.stateFile ? await readLocalState(problems.stateFile, node, log) : undefined;
    const backoff = new Backoff(100, 1_000);
    let warned = false;
    while (!signal.aborted) {
      try {
        const [{ kvs }, events] = await Promise.all([
          store.getMany([this.keys.maintenance(node), this.keys.conditions(node)]),
          problems ? store.list(this.keys.nodeEvents(node)) : undefined,
        ]);
        // One of our own records that fails the schema is ignored (and said once): start from defaults.
        const bad = (err: DecodeError) => log.warn({ key: escapeText(err.key), problem: escapeText(err.problem) }, 'own record ignored: fails the schema');
        const m = decodeMaintenance(kvs[0], bad);
        this.restoreMaintenance(m);
        const record = decodeConditions(kvs[1], bad);
        const times = (events?.kvs ?? []).map((kv) => eventLastTime(kv, bad)).filter((t): t is number => t !== undefined);
        log.info(
          { maintenance: m ? this.maint : undefined, conditions: record !== undefined, events: events?.kvs.length, bootId: identity.bootId },
          'previous state read',
        );
        return {
          ...(record ? { record } : {}),
          ...(times.length ? { eventsWatermarkMs: Math.max(...times) } : {}),
          ...(local ? { local } : {}),
        };
      } catch (err) {
        if (!(err instanceof EtcdUnavailableError)) {
          // Not something waiting fixes (permissions): start without the previous state.
          log.error({ err }, 'previous state not readable; starting without it');
          this.restoreMaintenance(undefined);
          return local ? { local } : {};
        }
        if (!warned) log.warn({ err }, 'etcd not answering; waiting to read the previous state');
        warned = true;
        await sleep(backoff.next(), signal);
      }
    }
    return undefined;
  }

  // Start from the stored marker, with any change made through the API meanwhile on top (it is newer).
  private restoreMaintenance(m: MaintenanceRecord | undefined): void {
    const early = this.maintEarly ?? [];
    this.maintEarly = undefined;
    let next: MaintenanceState = m ? { node: m.reason, services: { ...m.services } } : { node: null, services: {} };
    for (const [service, reason] of early) next = withMaintenance(next, service, reason);
    if (m && early.length === 0) this.maintUpdatedAt = m.updatedAt;
    this.applyMaintenance(next);
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
    const node = nodeRecord({
      name,
      phase,
      identity,
      address,
      labels: cfg.node.labels,
      facts,
      ...(this.utilization ? { utilization: this.utilization } : {}),
      startedAt: this.startedAt,
      registeredAt,
      lease,
    });
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
    if (this.problems) leased.set(this.keys.conditions(name), encode(this.problems.record()));
    const usage = this.usage?.record();
    if (usage) leased.set(this.keys.usage(name), encode(usage));
    // SkyDNS records of the passing endpoints (docs/consumers.md#dns): leased keys like the endpoints,
    // so they are written and deleted in the same transactions and vanish with the lease.
    if (cfg.dns) {
      const dns = new SkyDnsKeys(cfg.dns.prefix, cfg.dns.domain);
      const instance = dnsInstance(cfg);
      for (const svc of cfg.services) {
        if (this.health.get(svc.name)?.health !== 'passing') continue;
        const host = svc.address ?? address.address;
        leased.set(dns.record(dnsService(svc.name), instance), skyDnsRecord(host, svc.port, cfg.dns.ttl));
      }
    }
    const unleased = new Map([[this.keys.identity(name), encode(ident)]]);
    // Present only while something is in maintenance; deleted when the last maintenance ends.
    if (this.maint.node !== null || Object.keys(this.maint.services).length > 0) {
      const rec: MaintenanceRecord = {
        schema: SCHEMA_VERSION,
        node: name,
        reason: this.maint.node,
        services: this.maint.services,
        updatedAt: this.maintUpdatedAt,
      };
      unleased.set(this.keys.maintenance(name), encode(rec));
    }
    return { leased, unleased };
  }

  private endpoint(svc: ServiceConfig, node: string, nodeAddress: string, lease: string): EndpointRecord {
    const h = this.health.get(svc.name) ?? { health: 'critical', output: 'checks not started', since: this.startedAt };
    return endpointRecord(svc, node, nodeAddress, lease, h);
  }
}

/**
 * One SkyDNS record as the CoreDNS `etcd` plugin decodes it (plugin/etcd/msg/service.go `Service`):
 * `host` an IP (served as A/AAAA, and as the SRV target's glue), `port` for SRV, `ttl` in seconds.
 * Fixed field order, so an unchanged endpoint renders the same string and causes no write.
 */
export function skyDnsRecord(host: string, port: number, ttl: number): string {
  return JSON.stringify({ host, port, ttl });
}

/** `m` with one change: the node's (`service` undefined) or one service's maintenance set or cleared. */
function withMaintenance(m: MaintenanceState, service: string | undefined, reason: string | null): MaintenanceState {
  const next: MaintenanceState = { node: m.node, services: { ...m.services } };
  if (service === undefined) next.node = reason;
  else if (reason === null) delete next.services[service];
  else next.services[service] = reason;
  return next;
}
