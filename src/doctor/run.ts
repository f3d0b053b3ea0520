// The checks of `beacon doctor`, in report order, and the runner: each check's findings in turn (the
// endpoint checks measure the round trip the TTL check then weighs). A check that throws is a bug in
// it, reported as its own failed finding rather than ending the report.
import { endpoints } from './endpoint.js';
import { permissions, registration, ttl } from './etcd.js';
import { address, api, local, unit } from './local.js';
import { failed, type DoctorCheck, type DoctorContext, type Finding } from './types.js';

/** Every check by name, in the order the report shows them. */
export const doctorChecks = { endpoints, permissions, ttl, address, registration, unit, api, local } satisfies Record<string, DoctorCheck>;

/** Checks that need an etcd endpoint that answers: without one they would only repeat its finding. */
const NEEDS_ETCD = new Set<string>(['permissions', 'ttl', 'registration']);

/** Run every check; resolves the findings in order. */
export async function runDoctor(ctx: DoctorContext, signal: AbortSignal): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [name, check] of Object.entries(doctorChecks)) {
    if (signal.aborted) break;
    if (NEEDS_ETCD.has(name) && ctx.measured.rttMs === undefined) {
      out.push(failed(name, 'not checked: no etcd endpoint answers', 'fix the etcd findings above'));
      continue;
    }
    try {
      out.push(...(await check(ctx, signal)));
    } catch (err) {
      out.push(failed(name, `the check itself failed: ${(err as Error).message}`, 'report this as a beacon bug'));
    }
  }
  return out;
}
