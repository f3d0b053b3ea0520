// Endpoint health: the worst of a service's checks, overridden by maintenance. The tracker calls
// onChange only when what would be written to etcd changes, so a steady check never costs a write.
import type { EndpointHealth, HealthStatus } from '../types.js';
import { capOutput } from '../util/output.js';
import type { CheckResult } from './types.js';

const RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };
// Output of a check that has not produced a result yet (its status is the configured initialStatus).
const INITIAL_OUTPUT = 'no result yet (initial status)';

/** The worse of two statuses (critical > warning > passing). */
export function worse(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[b] > RANK[a] ? b : a;
}

/** The worst of some statuses; passing when there are none (a service without checks is passing). */
export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let w: HealthStatus = 'passing';
  for (const s of statuses) w = worse(w, s);
  return w;
}

/** Most bytes of one check's output kept in the endpoint record's `checks` (the deciding check's is in `output` whole). */
export const CHECK_OUTPUT_CAP_BYTES = 256;

/** One check of an endpoint as stored in its record (`checks`): what `describe node` and `services -o wide` show. */
export interface CheckView {
  id: string;
  name: string;
  status: HealthStatus;
  /** The output of the result that set `status` (capped at CHECK_OUTPUT_CAP_BYTES). */
  output: string;
  /** When `status` last changed, ISO 8601. */
  since: string;
}

/** An endpoint's health as the agent writes it (EndpointRecord's health, output, since and checks). */
export interface EndpointHealthState {
  health: EndpointHealth;
  output: string;
  /** When `health` last changed, ISO 8601. */
  since: string;
  /** Each check's own status, in config order; absent for a service without checks. */
  checks?: readonly CheckView[];
}

/** A check as the tracker needs it: its id, display name and status before any result. */
export interface TrackedCheck {
  id: string;
  name: string;
  initialStatus: HealthStatus;
}

/** Options of ServiceHealth. */
export interface ServiceHealthOptions {
  /** Each service with its checks, in config order (ties between equally bad checks go to the first). */
  services: readonly { name: string; checks: readonly TrackedCheck[] }[];
  /** Called when a service's health changes, or its output changes to name a different failing check. */
  onChange: (service: string, state: EndpointHealthState) => void;
  /** Maintenance in force at start (restored from etcd): node-wide reason and per-service reasons. */
  maintenance?: { node?: string | null; services?: Readonly<Record<string, string>> };
  now?: () => Date;
}

interface ServiceEntry {
  checks: Map<string, { name: string; result: CheckResult; since: string }>;
  state: EndpointHealthState;
  /** The check whose output `state.output` shows (undefined when passing or in maintenance). */
  decidedBy: string | undefined;
}

/** Tracks every service's endpoint health from check changes and maintenance. */
export class ServiceHealth {
  private readonly services = new Map<string, ServiceEntry>();
  private nodeMaintenance: string | null;
  private readonly serviceMaintenance = new Map<string, string>();
  private readonly now: () => Date;

  constructor(private readonly options: ServiceHealthOptions) {
    this.now = options.now ?? (() => new Date());
    this.nodeMaintenance = options.maintenance?.node ?? null;
    for (const [s, reason] of Object.entries(options.maintenance?.services ?? {})) this.serviceMaintenance.set(s, reason);
    const since = this.now().toISOString();
    for (const svc of options.services) this.services.set(svc.name, this.entry(svc.name, svc.checks, since));
  }

  /**
   * Track `service` with these checks, each back at its initial status (a reload changed them), or
   * start tracking a new service. Not reported through onChange: the caller writes what it changed.
   */
  setService(service: string, checks: readonly TrackedCheck[]): void {
    this.services.set(service, this.entry(service, checks, this.now().toISOString()));
  }

  /** Stop tracking a service (a reload removed it); its maintenance reason, if any, is kept. */
  removeService(service: string): void {
    this.services.delete(service);
  }

  /** What is in maintenance: the whole node (a reason, or null) and single services (name → reason). */
  maintenance(): { node: string | null; services: Record<string, string> } {
    return { node: this.nodeMaintenance, services: Object.fromEntries(this.serviceMaintenance) };
  }

  /** The current state of one service (undefined for an unknown service). */
  get(service: string): EndpointHealthState | undefined {
    return this.services.get(service)?.state;
  }

  /** Every service's current state. */
  all(): Map<string, EndpointHealthState> {
    return new Map([...this.services].map(([name, e]) => [name, e.state]));
  }

  /**
   * Record a check's new effective result (from CheckRunner's onChange, which calls only when the status
   * changed). A check's own status is stored with the endpoint, so a change of it is written even when the
   * endpoint's health stays; a new output under the same status is not (a steady check costs no write).
   */
  update(service: string, checkId: string, result: CheckResult): void {
    const entry = this.services.get(service);
    const check = entry?.checks.get(checkId);
    if (!entry || !check) return;
    const statusChanged = check.result.status !== result.status;
    check.result = result;
    if (statusChanged) check.since = this.now().toISOString();
    this.recompute(service, entry, statusChanged);
  }

  /**
   * Put one service (or, with `service` undefined, the whole node) into maintenance with `reason`,
   * or take it out with `reason` null.
   */
  setMaintenance(service: string | undefined, reason: string | null): void {
    if (service === undefined) this.nodeMaintenance = reason;
    else if (reason === null) this.serviceMaintenance.delete(service);
    else this.serviceMaintenance.set(service, reason);
    for (const [name, entry] of this.services) {
      if (service === undefined || name === service) this.recompute(name, entry);
    }
  }

  private entry(service: string, checks: readonly TrackedCheck[], since: string): ServiceEntry {
    const tracked = new Map(checks.map((c) => [c.id, { name: c.name, result: { status: c.initialStatus, output: INITIAL_OUTPUT }, since }]));
    const entry: ServiceEntry = { checks: tracked, state: { health: 'passing', output: '', since }, decidedBy: undefined };
    const [state, decidedBy] = this.compute(service, entry);
    entry.state = withChecks({ ...state, since }, entry);
    entry.decidedBy = decidedBy;
    return entry;
  }

  private recompute(service: string, entry: ServiceEntry, checkChanged = false): void {
    const [next, decidedBy] = this.compute(service, entry);
    const prev = entry.state;
    const healthChanged = next.health !== prev.health;
    // A different check now explains a bad health (or maintenance's reason changed): the stored
    // output would be wrong, so it is a change even though the health is the same.
    const explanationChanged = !healthChanged && next.health !== 'passing' && (decidedBy !== entry.decidedBy || (decidedBy === undefined && next.output !== prev.output));
    entry.decidedBy = decidedBy;
    if (!healthChanged && !explanationChanged && !checkChanged) return;
    entry.state = withChecks({ health: next.health, output: next.output, since: healthChanged ? this.now().toISOString() : prev.since }, entry);
    this.options.onChange(service, entry.state);
  }

  private compute(service: string, entry: ServiceEntry): [Omit<EndpointHealthState, 'since'>, string | undefined] {
    const maint = this.serviceMaintenance.get(service) ?? this.nodeMaintenance;
    if (maint !== null && maint !== undefined) {
      const scope = this.serviceMaintenance.has(service) ? 'service' : 'node';
      return [{ health: 'maintenance', output: capOutput(`${scope} in maintenance: ${maint}`) }, undefined];
    }
    let worst: HealthStatus = 'passing';
    let by: string | undefined;
    for (const [id, c] of entry.checks) {
      if (RANK[c.result.status] > RANK[worst]) {
        worst = c.result.status;
        by = id;
      }
    }
    if (by === undefined) return [{ health: 'passing', output: passingOutput(entry) }, undefined];
    // Sticky explanation: while the check already shown is among the worst, keep showing it (no churn).
    const shown = entry.decidedBy === undefined ? undefined : entry.checks.get(entry.decidedBy);
    if (shown && shown.result.status === worst) by = entry.decidedBy!;
    const c = entry.checks.get(by)!;
    return [{ health: worst, output: capOutput(`${c.name}: ${c.result.output}`) }, by];
  }
}

// The state with each check's own status (none for a service without checks).
function withChecks(state: EndpointHealthState, entry: ServiceEntry): EndpointHealthState {
  if (entry.checks.size === 0) return state;
  const checks = [...entry.checks].map(([id, c]) => ({
    id,
    name: c.name,
    status: c.result.status,
    output: capOutput(c.result.output, CHECK_OUTPUT_CAP_BYTES),
    since: c.since,
  }));
  return { ...state, checks };
}

// When all is well, say how many checks agree rather than echo one check's chatter.
function passingOutput(entry: ServiceEntry): string {
  const n = entry.checks.size;
  return n === 0 ? 'no checks' : `${n} check${n === 1 ? '' : 's'} passing`;
}
