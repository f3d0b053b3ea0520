// The registry of probes: one entry per check kind, chosen by `spec.kind`. Built by a function
// because the ttl probe reads the agent's TtlBoard (no module-level state, no import side effects).
import { execProbe } from './exec.js';
import { httpProbe } from './http.js';
import { systemdProbe } from './systemd.js';
import { tcpProbe } from './tcp.js';
import { ttlProbe, type TtlBoard } from './ttl.js';
import type { CheckKind, CheckSpec, Probe, SpecOf } from './types.js';

/** One probe per kind, typed by the kind's spec. */
export type ProbeRegistry = { [K in CheckKind]: Probe<SpecOf<K>> };

/** The probes of every kind; ttl checks read `board`. */
export function createProbes(board: TtlBoard): ProbeRegistry {
  return {
    http: httpProbe,
    tcp: tcpProbe,
    exec: execProbe,
    systemd: systemdProbe,
    ttl: ttlProbe(board),
  } satisfies ProbeRegistry;
}

/** The probe for one spec, as a plain `Probe` (the registry's typing guarantees the match). */
export function probeFor(probes: ProbeRegistry, spec: CheckSpec): Probe {
  return probes[spec.kind] as Probe;
}
