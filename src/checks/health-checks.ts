// Every service's checks in one place: their runners, the endpoint-health tracker (which also holds what
// is in maintenance) and the TTL board that ttl reports land on. A reload replaces one service's checks
// without touching the others'.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { HealthStatus } from '../types.js';
import { ServiceHealth, type EndpointHealthState, type ServiceHealthOptions } from './health.js';
import { createProbes, probeFor, type ProbeRegistry } from './probes.js';
import { CheckRunner, type CheckState } from './runner.js';
import { TtlBoard } from './ttl.js';
import type { CheckSpec } from './types.js';

/** A service and its parsed checks (parseChecks). */
export interface ServiceChecksSpec {
  name: string;
  checks: readonly CheckSpec[];
}

/** Options of HealthChecks. */
export interface HealthChecksOptions {
  /** Services with their parsed checks, in config order. */
  services: readonly ServiceChecksSpec[];
  log: Logger;
  /** An endpoint's health changed (or a different check now explains it): write it to etcd. */
  onChange: (service: string, state: EndpointHealthState) => void;
  /** Maintenance restored from etcd at start. */
  maintenance?: ServiceHealthOptions['maintenance'];
  /** Replace probes (tests); defaults to createProbes(board). */
  probes?: ProbeRegistry;
  random?: () => number;
}

// One service's runners; stopped on their own when a reload replaces or removes the service.
interface ServiceRunners {
  runners: CheckRunner[];
  /** The checks as configured: a reload replaces them only when this changes. */
  signature: string;
  stop: AbortController;
}

/** Runs all checks of all services and tracks each endpoint's health. */
export class HealthChecks {
  /** Reports for ttl checks land here (the local API's `PUT /v1/check/<id>`, or in-process callers). */
  readonly board = new TtlBoard();
  /** Endpoint health and maintenance per service: read `health.get(service)` for what to write. */
  readonly health: ServiceHealth;
  private readonly services = new Map<string, ServiceRunners>();
  private readonly probes: ProbeRegistry;
  /** run()'s signal, once running: services added later start at once under it. */
  private running: AbortSignal | undefined;
  /** Every service's run not finished yet, including those a reload replaced. */
  private readonly runs = new Set<Promise<void>>();

  constructor(private readonly options: HealthChecksOptions) {
    this.health = new ServiceHealth({
      services: options.services,
      onChange: options.onChange,
      ...(options.maintenance ? { maintenance: options.maintenance } : {}),
    });
    this.probes = options.probes ?? createProbes(this.board);
    for (const svc of options.services) this.services.set(svc.name, this.runnersFor(svc));
  }

  /** Every check's effective state, by check id. */
  checkStates(): Map<string, CheckState & { service: string }> {
    return new Map([...this.services.values()].flatMap((s) => s.runners.map((r) => [r.spec.id, { ...r.state, service: r.spec.service }] as const)));
  }

  /** Record a ttl check's report; throws UnknownCheckError for an id that is not a current ttl check. */
  report(id: string, status: HealthStatus, note: string): void {
    this.board.report(id, status, note);
  }

  /** Maintenance on (reason) or off (null) for one service, or the whole node when `service` is undefined. */
  setMaintenance(service: string | undefined, reason: string | null): void {
    this.health.setMaintenance(service, reason);
  }

  /** What is in maintenance now. */
  maintenance(): { node: string | null; services: Record<string, string> } {
    return this.health.maintenance();
  }

  /**
   * Apply a new service list: a service whose checks changed gets new ones (back to their initial status,
   * TTL clocks restarted), a removed service's checks stop, the others keep running untouched. Returns
   * the services whose checks were replaced. Nothing goes through onChange: the caller writes the result.
   */
  setServices(services: readonly ServiceChecksSpec[]): string[] {
    const next = new Map(services.map((s) => [s.name, s]));
    const replaced: string[] = [];
    // Every old check is retired before any new one registers: a ttl id moved to another service must
    // not be unregistered after its new owner took it.
    for (const [name, cur] of this.services) {
      const svc = next.get(name);
      if (svc && signature(svc) === cur.signature) continue;
      cur.stop.abort();
      for (const r of cur.runners) if (r.spec.kind === 'ttl') this.board.unregister(r.spec.id);
      this.services.delete(name);
      if (svc) replaced.push(name);
      else this.health.removeService(name);
    }
    for (const svc of services) {
      if (this.services.has(svc.name)) continue;
      this.health.setService(svc.name, svc.checks);
      const runners = this.runnersFor(svc);
      this.services.set(svc.name, runners);
      if (this.running) this.start(svc.name, runners, this.running);
    }
    return replaced;
  }

  /** Run every service's checks until `signal` aborts; resolves once every runner and child process is released. */
  async run(signal: AbortSignal): Promise<void> {
    this.running = signal;
    for (const [name, s] of this.services) this.start(name, s, signal);
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    // Checks a reload replaced may still be finishing (an exec check's process group): wait for all.
    await Promise.allSettled([...this.runs]);
  }

  private runnersFor(svc: ServiceChecksSpec): ServiceRunners {
    const stop = new AbortController();
    // Every check's runner waits on this signal: many checks are not a listener leak.
    setMaxListeners(0, stop.signal);
    const runners = svc.checks.map((spec) => {
      // Registered now, so a report that comes before the first probe call is kept and the TTL runs from here.
      if (spec.kind === 'ttl') this.board.register(spec);
      return new CheckRunner(spec, {
        probe: probeFor(this.probes, spec),
        log: this.options.log,
        // A replaced service's last result is not the new checks' news.
        onChange: (c) => {
          if (!stop.signal.aborted) this.health.update(svc.name, c.spec.id, c.state);
        },
        ...(this.options.random ? { random: this.options.random } : {}),
      });
    });
    return { runners, signature: signature(svc), stop };
  }

  private start(service: string, s: ServiceRunners, parent: AbortSignal): void {
    const onParent = () => s.stop.abort();
    if (parent.aborted) s.stop.abort();
    else {
      parent.addEventListener('abort', onParent, { once: true });
      s.stop.signal.addEventListener('abort', () => parent.removeEventListener('abort', onParent), { once: true });
    }
    const done = Promise.all(s.runners.map((r) => r.run(s.stop.signal))).then(
      () => undefined,
      (err: unknown) => this.options.log.error({ component: 'checks', err, service }, 'checks stopped'),
    );
    this.runs.add(done);
    void done.finally(() => this.runs.delete(done));
  }
}

function signature(svc: ServiceChecksSpec): string {
  return JSON.stringify(svc.checks);
}
