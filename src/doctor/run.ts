// The checks of `beacon doctor`, in report order, and the runner: each check's findings in turn (the
// endpoint checks measure the round trip the TTL check then weighs). A check that throws is a bug in
// it, reported as its own failed finding rather than ending the report.
import { endpoints } from './endpoint.js';
import { permissions, registration, ttl } from './etcd.js';
import { address, api, local, unit } from './local.js';
import { members } from './members.js';
import { failed, type ConfiguredContext, type DoctorCheck, type DoctorContext, type Finding } from './types.js';

/** A check and what it needs to say anything: an etcd endpoint that answers, a config that loaded. */
interface Step {
  check: DoctorCheck<ConfiguredContext>;
  etcd?: true;
  config?: true;
}

/** Every check by name, in the order the report shows them. */
export const doctorChecks = {
  endpoints: { check: endpoints },
  members: { check: members, etcd: true },
  permissions: { check: permissions, etcd: true, config: true },
  ttl: { check: ttl, etcd: true, config: true },
  address: { check: address, config: true },
  registration: { check: registration, etcd: true, config: true },
  unit: { check: unit },
  api: { check: api, config: true },
  local: { check: local, config: true },
} satisfies Record<string, Step>;

/**
 * Run every check; resolves the findings in order. With a config that has errors (ctx.config undefined),
 * the checks that need only etcd still run on what flags, environment and the file's etcd section give.
 */
export async function runDoctor(ctx: DoctorContext, signal: AbortSignal): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [name, step] of Object.entries(doctorChecks) as [string, Step][]) {
    if (signal.aborted) break;
    if (step.config && !ctx.config) {
      out.push(failed(name, 'not checked: the config has errors', 'fix the config findings above'));
      continue;
    }
    if (step.etcd && ctx.measured.rttMs === undefined) {
      out.push(failed(name, 'not checked: no etcd endpoint answers', 'fix the etcd findings above'));
      continue;
    }
    try {
      out.push(...(await step.check(ctx as ConfiguredContext, signal)));
    } catch (err) {
      out.push(failed(name, `the check itself failed: ${(err as Error).message}`, 'report this as a beacon bug'));
    }
  }
  return out;
}
