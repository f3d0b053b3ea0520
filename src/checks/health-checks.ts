// The agent-facing bundle: every service's check runners, the endpoint-health tracker and the TTL board
// (fed by the agent's local API, src/agent/api.ts), started and stopped together.
import type { Logger } from 'pino';
import { ServiceHealth, type EndpointHealthState, type ServiceHealthOptions } from './health.js';
import { createProbes, probeFor, type ProbeRegistry } from './probes.js';
import { CheckRunner, type CheckState } from './runner.js';
import { TtlBoard } from './ttl.js';
import type { CheckSpec } from './types.js';

/** Options of HealthChecks. */
export interface HealthChecksOptions {
  /** Services with their parsed checks (parseChecks), in config order. */
  services: readonly { name: string; checks: readonly CheckSpec[] }[];
  log: Logger;
  /** An endpoint's health changed (or a different check now explains it): write it to etcd. */
  onChange: (service: string, state: EndpointHealthState) => void;
  /** Maintenance restored from etcd at start. */
  maintenance?: ServiceHealthOptions['maintenance'];
  /** Replace probes (tests); defaults to createProbes(board). */
  probes?: ProbeRegistry;
  random?: () => number;
}

/** Runs all checks of all services and tracks each endpoint's health. */
export class HealthChecks {
  /** Reports for ttl checks land here (the local API's `PUT /v1/check/<id>`, or in-process callers). */
  readonly board = new TtlBoard();
  /** Endpoint health per service: read `health.all()` for the first registration. */
  readonly health: ServiceHealth;
  private readonly runners: CheckRunner[];

  constructor(options: HealthChecksOptions) {
    this.health = new ServiceHealth({
      services: options.services,
      onChange: options.onChange,
      ...(options.maintenance ? { maintenance: options.maintenance } : {}),
    });
    const probes = options.probes ?? createProbes(this.board);
    this.runners = options.services.flatMap((svc) =>
      svc.checks.map((spec) => {
        if (spec.kind === 'ttl') this.board.register(spec);
        return new CheckRunner(spec, {
          probe: probeFor(probes, spec),
          log: options.log,
          onChange: (c) => this.health.update(svc.name, c.spec.id, c.state),
          ...(options.random ? { random: options.random } : {}),
        });
      }),
    );
  }

  /** Every check's effective state, by check id. */
  checkStates(): Map<string, CheckState & { service: string }> {
    return new Map(this.runners.map((r) => [r.spec.id, { ...r.state, service: r.spec.service }]));
  }

  /** Maintenance on (reason) or off (null) for one service, or the whole node when `service` is undefined. */
  setMaintenance(service: string | undefined, reason: string | null): void {
    this.health.setMaintenance(service, reason);
  }

  /** Run everything until `signal` aborts; resolves once every runner and child process is released. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.runners.map((r) => r.run(signal)));
  }
}
